#include "authd/http_response.hpp"

#include <charconv>
#include <ctime>

namespace authd {

std::string_view http_date_now() {
    // IMF-fixdate is 29 characters: "Sun, 06 Nov 1994 08:49:37 GMT".
    thread_local char text[32];
    thread_local std::time_t cached = -1;
    const std::time_t now = std::time(nullptr);
    if (now != cached) {
        std::tm tm{};
        gmtime_r(&now, &tm);
        std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached = now;
    }
    return {text, 29};
}

namespace {

std::string_view status_line(api_code code) {
    switch (http_status(code)) {
        case 200:
            return "HTTP/1.1 200 OK\r\n";
        case 400:
            return "HTTP/1.1 400 Bad Request\r\n";
        case 401:  // RFC 6750 section 3: the challenge of a refused bearer token
            return "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer "
                   "error=\"invalid_token\"\r\n";
        case 404:
            return "HTTP/1.1 404 Not Found\r\n";
        case 405:
            return "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, POST\r\n";
        case 413:
            return "HTTP/1.1 413 Content Too Large\r\n";
        case 431:
            return "HTTP/1.1 431 Request Header Fields Too Large\r\n";
        case 503:
            return "HTTP/1.1 503 Service Unavailable\r\n";
        case 429:
            return "HTTP/1.1 429 Too Many Requests\r\n";
        default:
            return "HTTP/1.1 500 Internal Server Error\r\n";
    }
}

}  // namespace

void write_response_head(std::string& out, api_code code, std::size_t content_length,
                         bool keep_alive, int version, std::uint32_t retry_after,
                         std::string_view content_type) {
    out.clear();
    out += status_line(code);
    out += "Server: authd\r\nDate: ";
    out += http_date_now();
    // A response may carry a token: no cache, shared or private, may keep it (RFC 9111 5.2.2.5).
    out += "\r\nContent-Type: ";
    out += content_type;
    out += "\r\nCache-Control: no-store\r\nContent-Length: ";
    char digits[24];
    const auto res = std::to_chars(digits, digits + sizeof digits, content_length);
    out.append(digits, res.ptr);
    if (retry_after > 0) {
        out += "\r\nRetry-After: ";
        const auto r = std::to_chars(digits, digits + sizeof digits, retry_after);
        out.append(digits, r.ptr);
    }
    if (!keep_alive) {
        out += "\r\nConnection: close";
    } else if (version < 11) {
        out += "\r\nConnection: keep-alive";
    }
    out += "\r\n\r\n";
}

}  // namespace authd
