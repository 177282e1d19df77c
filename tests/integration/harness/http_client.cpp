#include "http_client.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/time.h>
#include <thread>
#include <unistd.h>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/parser.hpp>
#include <gtest/gtest.h>

namespace authd_it {

namespace http = boost::beast::http;
using detail::clock;
using detail::errno_text;
using detail::remaining_ms;

// --- HTTP ------------------------------------------------------------------------------------

std::string status_line(const response& r) {
    std::ostringstream s;
    s << "HTTP/" << r.version() / 10 << '.' << r.version() % 10 << ' ' << r.result_int() << ' '
      << r.reason();
    return s.str();
}

std::string header(const response& r, std::string_view name) {
    const auto it = r.find(name);
    return it == r.end() ? std::string() : std::string(it->value());
}

std::size_t header_count(const response& r, std::string_view name) {
    return r.count(name);
}

const char* to_string(close_kind k) {
    switch (k) {
        case close_kind::eof:
            return "eof";
        case close_kind::reset:
            return "reset";
        case close_kind::timeout:
            return "timeout";
        case close_kind::data:
            return "data";
    }
    return "?";
}

int connect_loopback(std::uint16_t port, int receive_buffer) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw std::runtime_error(errno_text("socket"));
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (receive_buffer > 0) {
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = 0;
    do {
        rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        const auto message = errno_text("connect");
        ::close(fd);
        throw std::runtime_error(message + " (127.0.0.1:" + std::to_string(port) + ")");
    }
    return fd;
}

http_client::http_client(std::uint16_t port, std::chrono::milliseconds timeout)
    : fd_(connect_loopback(port)), timeout_(timeout) {}

http_client::~http_client() {
    close();
}

void http_client::close(bool abort) {
    if (fd_ < 0) {
        return;
    }
    if (abort) {
        const linger l{1, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    ::close(fd_);
    fd_ = -1;
}

void http_client::send(std::string_view data) {
    const auto deadline = clock::now() + timeout_;
    while (!data.empty()) {
        const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            data.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd p{fd_, POLLOUT, 0};
            if (::poll(&p, 1, remaining_ms(deadline)) == 0) {
                throw std::runtime_error("send: timed out");
            }
            continue;
        }
        throw std::runtime_error(errno_text("send"));
    }
}

void http_client::send_slowly(std::string_view data, std::chrono::milliseconds pause) {
    for (std::size_t i = 0; i < data.size(); ++i) {
        send(data.substr(i, 1));
        if (i + 1 < data.size()) {
            std::this_thread::sleep_for(pause);
        }
    }
}

long http_client::fill(std::chrono::milliseconds timeout) {
    const auto deadline = clock::now() + timeout;
    for (;;) {
        pollfd p{fd_, POLLIN, 0};
        const int ready = ::poll(&p, 1, remaining_ms(deadline));
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready == 0) {
            throw std::runtime_error("read: no data within " + std::to_string(timeout.count()) +
                                     " ms");
        }
        auto space = buf_.prepare(16 * 1024);
        const ssize_t n = ::recv(fd_, space.data(), space.size(), 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        buf_.commit(static_cast<std::size_t>(n));
        return n;
    }
}

namespace {

enum class parse_outcome { done, need_more, error };

parse_outcome feed(http::response_parser<http::string_body>& parser, boost::beast::flat_buffer& buf,
                   std::string& error) {
    while (buf.size() > 0 && !parser.is_done()) {
        boost::beast::error_code ec;
        const auto used = parser.put(buf.data(), ec);
        buf.consume(used);
        if (ec == http::error::need_more) {
            return parse_outcome::need_more;
        }
        if (ec) {
            error = ec.message();
            return parse_outcome::error;
        }
    }
    return parser.is_done() ? parse_outcome::done : parse_outcome::need_more;
}

}  // namespace

response http_client::read_response() {
    auto r = try_read_response(timeout_);
    if (!r) {
        throw std::runtime_error("read_response: the connection ended (or nothing came within " +
                                 std::to_string(timeout_.count()) + " ms) before a response");
    }
    return std::move(*r);
}

std::optional<response> http_client::try_read_response(std::chrono::milliseconds timeout) {
    const auto deadline = clock::now() + timeout;
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    parser.body_limit(1024 * 1024);
    bool got_some = buf_.size() > 0;
    for (;;) {
        std::string error;
        switch (feed(parser, buf_, error)) {
            case parse_outcome::done:
                return parser.release();
            case parse_outcome::error:
                throw std::runtime_error("bad response: " + error);
            case parse_outcome::need_more:
                break;
        }
        long n = 0;
        try {
            n = fill(
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()));
        } catch (const std::runtime_error&) {
            if (!got_some) {
                return std::nullopt;
            }
            throw;
        }
        if (n > 0) {
            got_some = true;
            continue;
        }
        if (!got_some) {
            return std::nullopt;  // EOF or reset before the response began
        }
        if (n == 0) {
            boost::beast::error_code ec;
            parser.put_eof(ec);
            if (!ec && parser.is_done()) {
                return parser.release();
            }
            throw std::runtime_error("the connection ended in the middle of a response");
        }
        errno = static_cast<int>(-n);
        throw std::runtime_error(errno_text("read in the middle of a response"));
    }
}

response http_client::roundtrip(std::string_view request) {
    send(request);
    return read_response();
}

close_kind http_client::wait_close(std::chrono::milliseconds timeout) {
    if (buf_.size() > 0) {
        return close_kind::data;
    }
    long n = 0;
    try {
        n = fill(timeout);
    } catch (const std::runtime_error&) {
        return close_kind::timeout;
    }
    if (n > 0) {
        return close_kind::data;
    }
    if (n == 0) {
        return close_kind::eof;
    }
    return close_kind::reset;  // ECONNRESET and the like
}

std::uint16_t http_client::local_port() const {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        throw std::runtime_error(errno_text("getsockname"));
    }
    return ntohs(addr.sin_port);
}

bool wait_server_read(std::uint16_t server_port, const std::vector<std::uint16_t>& client_ports,
                      std::chrono::milliseconds timeout) {
    const auto deadline = clock::now() + timeout;
    for (;;) {
        // "sl local_address rem_address st tx_queue:rx_queue ...", addresses as HEXIP:HEXPORT.
        std::ifstream tcp("/proc/net/tcp");
        std::string line;
        std::getline(tcp, line);  // the column titles
        std::size_t drained = 0;
        while (std::getline(tcp, line)) {
            std::istringstream fields(line);
            std::string sl, local, remote, state, queues;
            if (!(fields >> sl >> local >> remote >> state >> queues)) {
                continue;
            }
            const auto port_of = [](const std::string& address) {
                const auto colon = address.find(':');
                return colon == std::string::npos
                           ? 0UL
                           : std::stoul(address.substr(colon + 1), nullptr, 16);
            };
            if (port_of(local) != server_port || std::find(client_ports.begin(), client_ports.end(),
                                                           port_of(remote)) == client_ports.end()) {
                continue;
            }
            const auto colon = queues.find(':');
            if (colon != std::string::npos &&
                std::stoul(queues.substr(colon + 1), nullptr, 16) == 0) {
                ++drained;
            }
        }
        if (drained == client_ports.size()) {
            return true;
        }
        if (clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(1ms);
    }
}

std::string make_request(std::string_view method, std::string_view target,
                         const std::vector<std::string>& header_lines, bool close) {
    std::string out;
    out += method;
    out += ' ';
    out += target;
    out += " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& line : header_lines) {
        out += line;
        out += "\r\n";
    }
    if (close) {
        out += "Connection: close\r\n";
    }
    out += "\r\n";
    return out;
}

std::string login_request(std::string_view user, std::string_view password, bool close) {
    return make_request("GET", "/login",
                        {"Password: " + std::string(password), "User-Name: " + std::string(user)},
                        close);
}

// --- clients from other loopback addresses ----------------------------------------------------

client_from::client_from(const std::string& source, std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    ::inet_pton(AF_INET, source.c_str(), &src.sin_addr);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
        ::connect(fd_, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
        const std::string error = std::strerror(errno);
        if (fd_ >= 0) {
            ::close(fd_);
        }
        throw std::runtime_error("connect from " + source + ": " + error);
    }
    timeval tv{30, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

client_from::~client_from() {
    ::close(fd_);
}

bool client_from::send(const std::string& data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
}

std::string client_from::read_response() {
    char buf[4096];
    for (;;) {
        const auto end = in_.find("\r\n\r\n");
        if (end != std::string::npos) {
            const auto cl = in_.find("Content-Length: ");
            const auto length =
                cl == std::string::npos || cl > end ? 0 : std::stoul(in_.substr(cl + 16));
            if (in_.size() >= end + 4 + length) {
                auto out = in_.substr(0, end + 4 + length);
                in_.erase(0, out.size());
                return out;
            }
        }
        const auto n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) {
            return {};
        }
        in_.append(buf, static_cast<std::size_t>(n));
    }
}

std::string client_from::roundtrip(const std::string& request) {
    return send(request) ? read_response() : std::string();
}

std::string body_of(const std::string& response) {
    const auto end = response.find("\r\n\r\n");
    return end == std::string::npos ? std::string() : response.substr(end + 4);
}

bool has_line(const std::string& response, const std::string& line) {
    return response.find("\r\n" + line + "\r\n") != std::string::npos;
}

std::string login_from(const std::string& source, std::uint16_t port, const std::string& user,
                       const std::string& password) {
    client_from c(source, port);
    return c.roundtrip(login_request(user, password, true));
}

std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof addr;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size) != 0) {
        throw std::runtime_error("cannot find a free port");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

long metric_value(std::uint16_t port, std::string_view name) {
    http_client c(port);
    const auto r = c.roundtrip(make_request("GET", "/metrics", {}, /*close=*/true));
    // (Built by appending: GCC 12 at -O2 warns, falsely, on "literal" + std::string&&.)
    const auto line = std::string("\n").append(name).append(" ");
    const auto at = r.body().find(line);
    if (at == std::string::npos) {
        ADD_FAILURE() << "no " << name << " in:\n" << r.body();
        return -1;
    }
    return std::stol(r.body().substr(at + line.size()));
}

namespace {

// The labels of a sample's {a="x",b="y"} (values without escapes, as authd's are), sorted.
std::vector<std::pair<std::string, std::string>> parse_labels(std::string_view text) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!text.empty()) {
        const auto eq = text.find("=\"");
        const auto close = eq == std::string_view::npos ? eq : text.find('"', eq + 2);
        if (close == std::string_view::npos) {
            break;
        }
        out.emplace_back(std::string(text.substr(0, eq)),
                         std::string(text.substr(eq + 2, close - eq - 2)));
        text.remove_prefix(close + 1);
        if (!text.empty() && text.front() == ',') {
            text.remove_prefix(1);
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

long metric_value(std::uint16_t port, std::string_view name,
                  const std::vector<std::pair<std::string, std::string>>& labels) {
    http_client c(port);
    const auto r = c.roundtrip(make_request("GET", "/metrics", {}, /*close=*/true));
    auto wanted = labels;
    std::sort(wanted.begin(), wanted.end());
    const std::string_view body = r.body();
    for (std::size_t begin = 0; begin < body.size();) {
        auto end = body.find('\n', begin);
        if (end == std::string_view::npos) {
            end = body.size();
        }
        const auto line = body.substr(begin, end - begin);
        begin = end + 1;
        if (line.size() <= name.size() || line.substr(0, name.size()) != name ||
            line[name.size()] != '{') {
            continue;
        }
        const auto close = line.find("} ", name.size());
        if (close == std::string_view::npos ||
            parse_labels(line.substr(name.size() + 1, close - name.size() - 1)) != wanted) {
            continue;
        }
        return std::stol(std::string(line.substr(close + 2)));
    }
    std::string shown;
    for (const auto& [k, v] : labels) {
        shown.append(shown.empty() ? "" : ",").append(k).append("=\"").append(v).append("\"");
    }
    ADD_FAILURE() << "no " << name << "{" << shown << "} in:\n" << body;
    return -1;
}

}  // namespace authd_it
