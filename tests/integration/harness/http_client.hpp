// The integration tests' HTTP clients on real sockets: a blocking HTTP/1.1 client that parses
// responses with Beast (http_client), one that connects from another loopback address and reads
// raw bytes (client_from), and the requests they send.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "common.hpp"

namespace authd_it {

// --- HTTP ------------------------------------------------------------------------------------

using response = boost::beast::http::response<boost::beast::http::string_body>;

// "HTTP/1.1 200 OK"
std::string status_line(const response& r);

// A header's value ("" when absent); how many times a header appears.
std::string header(const response& r, std::string_view name);
std::size_t header_count(const response& r, std::string_view name);

// What a read found at the end of a connection.
enum class close_kind { eof, reset, timeout, data };
const char* to_string(close_kind k);

// A blocking TCP connection to 127.0.0.1:port (TCP_NODELAY; receive_buffer > 0: SO_RCVBUF set
// before connecting, so that the window advertised is small). Throws std::runtime_error.
int connect_loopback(std::uint16_t port, int receive_buffer = 0);

// A blocking client connection to 127.0.0.1:port. Every wait has a timeout (the tests never
// hang): a read that times out throws std::runtime_error.
class http_client {
  public:
    explicit http_client(std::uint16_t port, std::chrono::milliseconds timeout = 30s);
    ~http_client();
    http_client(const http_client&) = delete;
    http_client& operator=(const http_client&) = delete;

    // Writes all of data. Throws on failure.
    void send(std::string_view data);
    // Writes data one byte at a time with pause between bytes.
    void send_slowly(std::string_view data, std::chrono::milliseconds pause);

    // Reads one response (bytes past it stay buffered for the next one: pipelining). Throws
    // std::runtime_error on EOF, error or timeout before a complete response.
    response read_response();
    // Reads one response to a HEAD-less request within timeout; nullopt when the connection
    // ended (EOF or reset) before any byte of it, or nothing came within timeout.
    std::optional<response> try_read_response(std::chrono::milliseconds timeout);

    // send() then read_response().
    response roundtrip(std::string_view request);

    // Waits (up to timeout) for what comes next: EOF (an orderly close), a reset, data, or
    // nothing. Data already buffered counts as data.
    close_kind wait_close(std::chrono::milliseconds timeout);

    // Closes now; with abort, sends a reset (SO_LINGER 0) instead of a FIN.
    void close(bool abort = false);

    int fd() const noexcept { return fd_; }
    std::uint16_t local_port() const;

  private:
    // Reads more into buf_; returns bytes read (0 at EOF); -errno on error; throws on timeout.
    long fill(std::chrono::milliseconds timeout);

    int fd_ = -1;
    std::chrono::milliseconds timeout_;
    boost::beast::flat_buffer buf_;
};

// Waits (up to timeout) until the server on server_port has read everything the given clients
// (by their local ports) sent it: the kernel's receive queues of the server's ends of those
// connections (/proc/net/tcp) are empty. authd gives no other sign that a request reached it.
bool wait_server_read(std::uint16_t server_port, const std::vector<std::uint16_t>& client_ports,
                      std::chrono::milliseconds timeout);

// A GET (or other method) request for target with the given header lines ("Name: value"), as
// raw bytes. HTTP/1.1, keep-alive (the default) unless close is set.
std::string make_request(std::string_view method, std::string_view target,
                         const std::vector<std::string>& header_lines, bool close = false);
// GET /login with Password and User-Name (in that order).
std::string login_request(std::string_view user, std::string_view password, bool close = false);

// --- clients from other loopback addresses ----------------------------------------------------

// A blocking client connected from a chosen loopback source address (127.0.0.2, 127.0.0.3, ...),
// so that authd sees distinct client addresses on one machine. Reads time out after 30 s.
class client_from {
  public:
    client_from(const std::string& source, std::uint16_t port);
    ~client_from();
    client_from(const client_from&) = delete;
    client_from& operator=(const client_from&) = delete;

    // Sends all of data; false when the socket is closed.
    bool send(const std::string& data);
    // Reads one whole response (head and body; the rest stays buffered), or "" on a closed socket.
    std::string read_response();
    // send() then read_response().
    std::string roundtrip(const std::string& request);
    int fd() const noexcept { return fd_; }

  private:
    int fd_ = -1;
    std::string in_;
};

// The body of a raw response (what follows the blank line).
std::string body_of(const std::string& response);
// True when the raw response has the header line exactly ("Retry-After: 1").
bool has_line(const std::string& response, const std::string& line);
// One login on a new connection from source; the raw response ("" when closed).
std::string login_from(const std::string& source, std::uint16_t port, const std::string& user,
                       const std::string& password);

inline const std::string not_found_body =
    R"({"code":404,"status":"error","message":"Data not found."})";

// A port on 127.0.0.1 that was free a moment ago.
std::uint16_t free_port();

// The value of the unlabelled sample NAME in authd's /metrics, read on a connection of its own
// that is closed at once; -1 (and a test failure) when there is none.
long metric_value(std::uint16_t port, std::string_view name);

// The value of the sample NAME{LABELS} in authd's /metrics whose labels are exactly labels (in
// any order), e.g. metric_value(port, "authd_limit_refusals_total", {{"budget", "account"}}); -1
// (and a test failure) when there is none.
long metric_value(std::uint16_t port, std::string_view name,
                  const std::vector<std::pair<std::string, std::string>>& labels);

}  // namespace authd_it
