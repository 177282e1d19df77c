// Serialising the head of an authd response (socket-free, allocation-free once warm).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "authd/http/api.hpp"

namespace authd {

// A response for a connection to write: a body code, its body (JSON, or /metrics' text) and what
// goes with them.
struct response {
    api_code code = api_code::ok;
    std::string_view body;          // lives as long as whoever made the response says
    std::uint32_t retry_after = 0;  // > 0: a Retry-After header of that many seconds
    std::string_view content_type = "application/json";
    std::string_view extra_headers;  // whole header lines, each ending in CRLF
};

// A JSON response (no extra header), and the one of canned_body(code).
response json_response(api_code code, std::string_view body, std::uint32_t retry_after = 0);
response canned_response(api_code code, std::uint32_t retry_after = 0);

// The current time as an IMF-fixdate (RFC 9110 section 5.6.7), recomputed at most once per second
// per thread.
std::string_view http_date_now();

// Writes the status line and headers of a response with a JSON body of content_length bytes into
// out (cleared first; its capacity is reused). version is the request's (10 or 11): an HTTP/1.0
// client that asked for keep-alive is told so explicitly. retry_after > 0 adds a Retry-After header
// (RFC 9110 section 10.2.3) of that many seconds. extra_headers are whole header lines, each
// ending in CRLF, written as they are (the caller makes sure they hold no CR or LF of their own).
void write_response_head(std::string& out, api_code code, std::size_t content_length,
                         bool keep_alive, int version, std::uint32_t retry_after = 0,
                         std::string_view content_type = "application/json",
                         std::string_view extra_headers = {});

// The content type of /metrics (Prometheus text exposition format 0.0.4).
inline constexpr std::string_view prometheus_content_type =
    "text/plain; version=0.0.4; charset=utf-8";

}  // namespace authd
