// Parsing one HTTP/1.1 request into what authd needs of it, without a socket and without
// allocating per request: a Beast basic_parser that keeps only the method, the route and the
// credential headers, and discards the body. What to do with the request: router.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/verb.hpp>

#include "authd/http/api.hpp"

namespace authd {

// The paths authd serves. Anything else is route::unknown (404). forward_auth is /forward-auth and
// every path below it (a proxy may append the original request's path: docs/forward-auth.md).
enum class route : std::uint8_t {
    unknown,
    login,
    verify,
    logout,
    healthz,
    readyz,
    metrics,
    jwks,
    forward_auth
};
inline constexpr std::size_t route_count = 9;

// The route's name as it appears in metrics and logs ("login", "verify", ..., "unknown").
std::string_view route_name(route r) noexcept;

// Limits on one request (docs/api.md, "Limits").
struct request_limits {
    std::uint32_t header_bytes = 8 * 1024;               // request line + all headers; past it: 431
    std::uint32_t target_bytes = 2 * 1024;               // the request-target; past it: 431
    std::uint32_t field_bytes = 4 * 1024;                // one header's value; past it: 431
    std::uint32_t fields = 64;                           // number of headers; past it: 431
    std::uint64_t body_bytes = std::uint64_t{8} * 1024;  // the body is ignored; past it: 413
};

// A connection reads at most this much at a time (requests are a few hundred bytes).
inline constexpr std::size_t read_chunk_bytes = 2048;

// What a connection buffers of its input: one full request head and a pipelined one behind it
// plus one read. A client cannot make a connection hold more.
constexpr std::size_t connection_buffer_bytes(const request_limits& limits) noexcept {
    return 2 * static_cast<std::size_t>(limits.header_bytes) + read_chunk_bytes;
}

// One credential header as received. The value's storage is reused across the requests of a
// connection, so a keep-alive connection does not allocate per request.
struct credential_header {
    std::string value;
    std::uint8_t count = 0;  // how many times the header appeared

    void clear() noexcept;  // wipes the old value (it may be a password) and resets the count
};

// What authd keeps of a request head. Owned by the connection, reused for each request.
struct request_head {
    boost::beast::http::verb method = boost::beast::http::verb::unknown;
    authd::route route = route::unknown;
    int version = 11;
    credential_header password;
    credential_header user_name;
    credential_header token;          // /verify: "Token: <jwt>" (the seed's header style)
    credential_header authorization;  // /verify: "Authorization: Bearer <jwt>"

    void clear() noexcept;
    ~request_head() { clear(); }
};

// A parser for one request; make a new one (cheap, no allocation) for each request of a
// connection, over the connection's request_head.
class request_parser final : public boost::beast::http::basic_parser<true> {
  public:
    request_parser(request_head& head, const request_limits& limits);
    // limits is kept by reference: it must outlive the parser, so a temporary is refused.
    request_parser(request_head& head, const request_limits&& limits) = delete;

    // basic_parser::put, except that the head (request line and header section) is refused
    // with header_limit once it runs past limits.header_bytes, counted from its first byte
    // however it arrives; a request line refused before Beast names its method is taken for
    // HEAD when it begins with "HEAD "; and the rest of a chunked body is handed to Beast only
    // once at least 5 bytes of it are there (a chunked body ends with at least "0\r\n\r\n", so no
    // message completes any sooner): Beast 1.81 asserts, and a debug build aborts, when the last
    // chunk "0\r\n" came alone and the next call brings one byte more.
    std::size_t put(boost::asio::const_buffer buffer, boost::beast::error_code& ec);

    // True once, when the head is done, asked "Expect: 100-continue" (HTTP/1.1) and a body is still
    // to come: the caller sends "100 Continue" before it waits for the body (RFC 9110 section
    // 10.1.1), so that a client that waits for it does not wait in vain.
    bool take_continue() noexcept {
        const bool owed = continue_owed_ && is_header_done() && !is_done();
        continue_owed_ = continue_owed_ && !owed;
        return owed;
    }

  private:
    using error_code = boost::beast::error_code;
    using string_view = boost::beast::string_view;

    void on_request_impl(boost::beast::http::verb method, string_view method_str,
                         string_view target, int version, error_code& ec) override;
    void on_response_impl(int, string_view, int, error_code& ec) override;
    void on_field_impl(boost::beast::http::field name, string_view name_string, string_view value,
                       error_code& ec) override;
    void on_header_impl(error_code& ec) override;
    void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                           error_code& ec) override;
    std::size_t on_body_impl(string_view body, error_code& ec) override;
    void on_chunk_header_impl(std::uint64_t size, string_view extensions, error_code& ec) override;
    std::size_t on_chunk_body_impl(std::uint64_t remain, string_view body, error_code& ec) override;
    void on_finish_impl(error_code& ec) override;

    request_head& head_;
    const request_limits& limits_;
    std::size_t head_bytes_ = 0;       // of the request line and header section, consumed so far
    std::uint32_t fields_ = 0;         // header and trailer fields alike
    bool skipped_empty_line_ = false;  // the one empty line ignored before the request line
    bool continue_owed_ = false;       // "Expect: 100-continue", not answered yet
    bool in_trailer_ = false;  // the header section has ended: fields now are trailer fields
    // The header section's framing fields, checked once it ends (on_header_impl).
    bool content_length_ = false;
    bool transfer_encoding_ = false;
    std::uint32_t codings_ = 0;        // transfer codings named, over all Transfer-Encoding fields
    bool other_coding_ = false;        // one of them is not "chunked"
    std::uint64_t chunked_bytes_ = 0;  // chunk data and chunk extensions, so far
    std::uint8_t hosts_ = 0;           // Host fields (at most 2 counted: one too many is enough)
    bool bad_host_ = false;            // one of them is not a valid host
};

// Whether value is a valid Host field value (RFC 9110 section 7.2: uri-host [ ":" port ], with
// uri-host an IP-literal in brackets, an IPv4 address or a reg-name of RFC 3986; empty is valid).
bool valid_host(std::string_view value) noexcept;

}  // namespace authd
