#include "authd/http/http_response.hpp"

#include <array>
#include <charconv>
#include <ctime>

#include "authd/util/clock.hpp"

namespace authd {

response json_response(api_code code, std::string_view body, std::uint32_t retry_after) {
    response r;
    r.code = code;
    r.body = body;
    r.retry_after = retry_after;
    return r;
}

response canned_response(api_code code, std::uint32_t retry_after) {
    return json_response(code, canned_body(code), retry_after);
}

std::string_view http_date_now() {
    // IMF-fixdate is 29 characters: "Sun, 06 Nov 1994 08:49:37 GMT".
    thread_local char text[32];
    thread_local std::time_t cached = -1;
    const std::time_t now = unix_now();  // the clock of the tokens' times
    if (now != cached) {
        std::tm tm{};
        gmtime_r(&now, &tm);
        std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached = now;
    }
    return {text, 29};
}

namespace {

// Headers that go with a status: RFC 6750 section 3's challenge of a refused bearer token, RFC
// 9110's Allow of a 405.
std::string_view status_headers(unsigned status) {
    switch (status) {
        case 401:
            return "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n";
        case 405:
            return "Allow: GET, POST\r\n";
        default:
            return {};
    }
}

// "HTTP/1.1 404 Not Found\r\n" and its headers, for every code, built once from api.cpp's table.
std::string_view status_line(api_code code) {
    static const auto lines = [] {
        std::array<std::string, 600> table;
        for (const auto status : {200U, 400U, 401U, 404U, 405U, 413U, 429U, 431U, 500U, 503U}) {
            table[status] = "HTTP/1.1 " + std::to_string(status) + " " +
                            std::string(reason_phrase(status)) + "\r\n" +
                            std::string(status_headers(status));
        }
        return table;
    }();
    return lines[http_status(code)];
}

}  // namespace

void write_response_head(std::string& out, api_code code, std::size_t content_length,
                         bool keep_alive, int version, std::uint32_t retry_after,
                         std::string_view content_type, std::string_view extra_headers) {
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
    out += "\r\n";
    out += extra_headers;
    out += "\r\n";
}

}  // namespace authd
