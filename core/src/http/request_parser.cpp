#include "authd/http/request_parser.hpp"

#include <algorithm>
#include <optional>
#include <string_view>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

#include "authd/util/wipe.hpp"

namespace authd {

namespace http = boost::beast::http;

void credential_header::clear() noexcept {
    wipe(value);
    count = 0;
}

void request_head::clear() noexcept {
    method = http::verb::unknown;
    route = route::unknown;
    version = 11;
    password.clear();
    user_name.clear();
    token.clear();
    authorization.clear();
}

request_parser::request_parser(request_head& head, const request_limits& limits)
    : head_(head), limits_(limits) {
    head_.clear();
    header_limit(limits.header_bytes);
    body_limit(limits.body_bytes);
}

std::size_t request_parser::put(boost::asio::const_buffer buffer, error_code& ec) {
    constexpr std::size_t shortest_chunked_end = 5;  // "0\r\n\r\n"
    // RFC 9112 section 2.2: one empty line before the request line is ignored (some clients
    // send one after a POST body). One only: a stream of them is not a request.
    if (!got_some() && head_bytes_ == 0 && !skipped_empty_line_ && buffer.size() > 0 &&
        *static_cast<const char*>(buffer.data()) == '\r') {
        if (buffer.size() < 2) {
            ec = http::error::need_more;
            return 0;
        }
        if (static_cast<const char*>(buffer.data())[1] == '\n') {
            skipped_empty_line_ = true;
            ec = {};
            return 2;
        }
    }
    if (is_header_done()) {
        if (chunked() && !is_done() && buffer.size() < shortest_chunked_end) {
            ec = http::error::need_more;
            return 0;
        }
        return basic_parser::put(buffer, ec);
    }
    // The head: Beast sees no more of it than the limit leaves, counted from the request's first
    // byte (Beast's own limit counts from where each call begins, after the request line).
    const std::size_t left =
        limits_.header_bytes - std::min<std::size_t>(head_bytes_, limits_.header_bytes);
    const bool cut = buffer.size() > left;
    const auto used =
        basic_parser::put(cut ? boost::asio::const_buffer(buffer.data(), left) : buffer, ec);
    if (!is_header_done()) {
        head_bytes_ += used;
        if (ec == http::error::need_more && cut) {
            ec = http::error::header_limit;  // the head goes on past the limit
        }
    } else if (ec == http::error::need_more && cut) {
        // The head ended within the limit and Beast went on into the body as far as the cut: the
        // rest of the body is in the caller's buffer already. No error, so the caller calls again
        // at once instead of waiting for bytes that may never come (a chunked request behind a
        // pipelined one, whose head and first chunks ran past the cut).
        ec = {};
    }
    // A request line refused, or not whole yet, before Beast named its method: a HEAD request's
    // answer still has no body (docs/api.md, "HEAD"), also when the request is cut short after
    // its method (the end of the stream, then 400). Nothing of the request has been consumed
    // (head_bytes_ is 0), so its request line is at the start of the buffer; once Beast parses
    // the line, it names the method itself.
    if (ec && head_.method == http::verb::unknown && head_bytes_ == 0) {
        constexpr std::string_view head_method = "HEAD ";
        const std::string_view start(static_cast<const char*>(buffer.data()),
                                     std::min(buffer.size(), head_method.size()));
        if (start == head_method) {
            head_.method = http::verb::head;
        }
    }
    return used;
}

namespace {

struct route_entry {
    std::string_view path;
    authd::route route;
};

constexpr route_entry routes[] = {
    {"/login", route::login},
    {"/verify", route::verify},
    {"/logout", route::logout},
    {"/healthz", route::healthz},
    {"/readyz", route::readyz},
    {"/metrics", route::metrics},
    {"/.well-known/jwks.json", route::jwks},
};

// The path of a request-target in absolute-form (RFC 9112 section 3.2.2: "http://host/path?q",
// which a server must accept), or the target as it is (origin-form, or anything else).
std::string_view origin_form(std::string_view target) {
    const auto scheme_end = target.find("://");
    if (target.empty() || target.front() == '/' || scheme_end == std::string_view::npos) {
        return target;
    }
    const auto scheme = target.substr(0, scheme_end);
    if (!boost::beast::iequals(scheme, "http") && !boost::beast::iequals(scheme, "https")) {
        return target;
    }
    const auto rest = target.substr(scheme_end + 3);
    const auto path = rest.find_first_of("/?");
    if (path == std::string_view::npos || rest[path] == '?') {
        return "/";  // an empty path is "/" (RFC 9110 section 4.2.3); a query is ignored anyway
    }
    return rest.substr(path);
}

route route_of(std::string_view target) {
    target = origin_form(target);
    const auto path = target.substr(0, target.find('?'));
    constexpr std::string_view forward_auth = "/forward-auth";
    if (path.substr(0, forward_auth.size()) == forward_auth &&
        (path.size() == forward_auth.size() || path[forward_auth.size()] == '/')) {
        return route::forward_auth;
    }
    for (const auto& r : routes) {
        if (r.path == path) {
            return r.route;
        }
    }
    return route::unknown;
}

}  // namespace

void request_parser::on_request_impl(http::verb method, string_view, string_view target,
                                     int version, error_code& ec) {
    head_.method = method;  // first: a refused HEAD request is answered without a body too
    if (target.size() > limits_.target_bytes) {
        ec = http::error::header_limit;
        return;
    }
    head_.route = route_of(target);
    head_.version = version;
}

void request_parser::on_response_impl(int, string_view, int, error_code& ec) {
    ec = http::error::bad_method;  // unreachable: this is a request parser
}

namespace {

// Counts the transfer codings of a Transfer-Encoding value, a comma-separated list with optional
// whitespace around the commas and empty elements ignored (RFC 9110 section 5.6.1), and notes
// whether one of them is anything but "chunked" (any case, and without parameters).
void count_codings(std::string_view list, std::uint32_t& count, bool& other) {
    constexpr std::string_view ows = " \t";
    while (!list.empty()) {
        const auto comma = list.find(',');
        auto element = list.substr(0, comma);
        list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
        const auto first = element.find_first_not_of(ows);
        if (first == std::string_view::npos) {
            continue;
        }
        element = element.substr(first, element.find_last_not_of(ows) + 1 - first);
        count += count < 255 ? 1 : 0;
        other = other || !boost::beast::iequals(element, "chunked");
    }
}

}  // namespace

void request_parser::on_field_impl(http::field field, string_view name, string_view value,
                                   error_code& ec) {
    if (++fields_ > limits_.fields || value.size() > limits_.field_bytes) {
        ec = http::error::header_limit;
        return;
    }
    // Trailer fields (after a chunked body) are bounded like headers, and otherwise ignored:
    // credentials count only in the header section, where whatever inspects headers sees them.
    if (in_trailer_) {
        return;
    }
    if (field == http::field::content_length) {
        content_length_ = true;
    } else if (field == http::field::expect) {
        // RFC 9110 section 10.1.1; an HTTP/1.0 client's expectation is ignored.
        continue_owed_ = head_.version >= 11 && boost::beast::iequals(value, "100-continue");
    } else if (field == http::field::transfer_encoding) {
        transfer_encoding_ = true;
        count_codings(value, codings_, other_coding_);
    } else if (field == http::field::host) {
        hosts_ = static_cast<std::uint8_t>(std::min(hosts_ + 1, 2));
        bad_host_ = bad_host_ || !valid_host(value);
    }
    credential_header* target = nullptr;
    if (boost::beast::iequals(name, "Password")) {
        target = &head_.password;
    } else if (boost::beast::iequals(name, "User-Name")) {
        target = &head_.user_name;
    } else if (boost::beast::iequals(name, "Token")) {
        target = &head_.token;
    } else if (boost::beast::iequals(name, "Authorization")) {
        target = &head_.authorization;
    } else {
        return;
    }
    // Keep the first value only: a duplicated header is refused (decide()), never picked from.
    if (target->count == 0) {
        target->value.assign(value.data(), value.size());
    }
    if (target->count < 255) {
        ++target->count;
    }
}

// RFC 9112 sections 6.1 and 6.3. authd reads no body, so the only transfer coding it takes is
// exactly "chunked" (one coding, in one field or spread over several), never with Content-Length
// and never from an HTTP/1.0 client. Anything else is refused (400, and the connection closes),
// where Beast would frame the message by Content-Length or as bodiless: a proxy in front that
// frames it otherwise would see its body as another request (request smuggling). Beast must
// agree that the body is chunked, so that both readings of the value are the same.
//
// RFC 9112 section 3.2: an HTTP/1.1 request without Host, and any request with two Host fields or
// an invalid one, is 400. authd builds nothing from Host, but a proxy in front may route by it, and
// a request that two readers could take for two hosts is refused rather than served.
void request_parser::on_header_impl(error_code& ec) {
    in_trailer_ = true;
    if (transfer_encoding_ &&
        (head_.version < 11 || content_length_ || codings_ != 1 || other_coding_ || !chunked())) {
        ec = http::error::bad_transfer_encoding;
    } else if (hosts_ > 1 || bad_host_ || (hosts_ == 0 && head_.version >= 11)) {
        ec = http::error::bad_value;
    }
}

namespace {

// RFC 3986 section 2: unreserved and sub-delims.
bool host_char(char c) noexcept {
    constexpr std::string_view others = "-._~!$&'()*+,;=";
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           others.find(c) != std::string_view::npos;
}

bool hex_digit(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// unreserved / sub-delims / pct-encoded, and ':' too where colon is true (inside brackets).
bool host_text(std::string_view text, bool colon) noexcept {
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%') {
            if (i + 2 >= text.size() || !hex_digit(text[i + 1]) || !hex_digit(text[i + 2])) {
                return false;
            }
            i += 2;
        } else if (!host_char(text[i]) && !(colon && text[i] == ':')) {
            return false;
        }
    }
    return true;
}

}  // namespace

bool valid_host(std::string_view value) noexcept {
    std::string_view host = value;
    std::string_view port;
    bool bracketed = false;
    if (!value.empty() && value.front() == '[') {
        const auto close = value.find(']');
        if (close == std::string_view::npos || close == 1) {
            return false;
        }
        host = value.substr(1, close - 1);
        bracketed = true;
        const auto rest = value.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                return false;
            }
            port = rest.substr(1);
        }
    } else if (const auto colon = value.find(':'); colon != std::string_view::npos) {
        host = value.substr(0, colon);
        port = value.substr(colon + 1);
    }
    return host_text(host, bracketed) &&
           std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void request_parser::on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) {}

// The body is never used: discard it as it arrives (basic_parser enforces the body limit).
std::size_t request_parser::on_body_impl(string_view body, error_code&) {
    return body.size();
}

// Chunk extensions are ignored, but checked and bounded. Beast takes a lone LF, a NUL or a DEL
// inside a quoted extension value; RFC 9110 section 5.6.4 allows no control character there but
// HTAB, and a proxy that ends the line at the LF would frame the rest as chunk data (one half of a
// chunk-extension smuggling pair): 400. Their bytes count against the body limit with the chunks'
// data (RFC 9112 section 7.1.1: a server limits them), so 3 MB of extensions are 413 as 3 MB of
// data are.
void request_parser::on_chunk_header_impl(std::uint64_t size, string_view extensions,
                                          error_code& ec) {
    const bool control = std::any_of(extensions.begin(), extensions.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && c != '\t') || u == 0x7f;
    });
    if (control) {
        ec = http::error::bad_chunk_extension;
        return;
    }
    chunked_bytes_ += size + extensions.size();
    if (chunked_bytes_ > limits_.body_bytes) {
        ec = http::error::body_limit;
    }
}

std::size_t request_parser::on_chunk_body_impl(std::uint64_t, string_view body, error_code&) {
    return body.size();
}

void request_parser::on_finish_impl(error_code&) {}

std::string_view route_name(route r) noexcept {
    switch (r) {
        case route::login:
            return "login";
        case route::verify:
            return "verify";
        case route::logout:
            return "logout";
        case route::healthz:
            return "healthz";
        case route::readyz:
            return "readyz";
        case route::metrics:
            return "metrics";
        case route::jwks:
            return "jwks";
        case route::forward_auth:
            return "forward_auth";
        case route::unknown:
            break;
    }
    return "unknown";
}

}  // namespace authd
