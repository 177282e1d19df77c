// The login API's response codes and messages (docs/api.md, after ../shared/seed/login-api.md).
//
// Every answer authd gives is a JSON object of the seed's shape:
//   {"code":200,"status":"ok","token":"<JWT>"}
//   {"code":402,"status":"error","message":"Required field < Password > is not specified."}
// The body code is the seed's; the HTTP status line is chosen per code (see http_status()).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace authd {

// A code of the API's "Common API codes" table (docs/api.md).
enum class api_code : std::uint16_t {
    ok = 200,
    bad_request = 400,    // malformed HTTP, duplicated credential header
    invalid_token = 401,  // /verify: "Invalid or expired token."
    field_missing = 402,  // seed: "Required field < HEADER > is not specified." / "is empty."
    not_found = 404,      // seed: "Data not found." (unknown user or wrong password),
                          // and an unknown path
    method_not_allowed = 405,
    payload_too_large = 413,
    too_many_attempts = 429,  // brute-force limit: "Too many attempts. Retry in N s."
    headers_too_large = 431,
    internal_error = 500,
    busy = 503,
};

// The HTTP status sent with a body code (docs/api.md, "HTTP status lines").
unsigned http_status(api_code code) noexcept;

// The reason phrase of an HTTP status sent by authd ("OK", "Unauthorized", ...).
std::string_view reason_phrase(unsigned http_status) noexcept;

// The two credential headers, in the order the seed's parameter table lists them: a request
// lacking both reports the first.
enum class credential_field : std::uint8_t { password, user_name, token };

std::string_view field_name(credential_field f) noexcept;

// Fixed messages.
inline constexpr std::string_view msg_data_not_found = "Data not found.";
inline constexpr std::string_view msg_path_not_found = "Path not found.";
inline constexpr std::string_view msg_method_not_allowed = "Method not allowed.";
inline constexpr std::string_view msg_headers_too_large = "Request header fields too large.";
inline constexpr std::string_view msg_payload_too_large = "Request body too large.";
inline constexpr std::string_view msg_bad_request = "Bad request.";
inline constexpr std::string_view msg_busy = "Server busy, retry later.";
inline constexpr std::string_view msg_internal = "Internal error.";
inline constexpr std::string_view msg_invalid_token = "Invalid or expired token.";

// "Required field < Password > is not specified."
std::string message_field_missing(credential_field f);
// "Required field < User-Name > is empty."
std::string message_field_empty(credential_field f);
// "Field < Password > is duplicated."
std::string message_field_duplicated(credential_field f);

// "Too many attempts. Retry in 30 s."
std::string message_too_many_attempts(std::uint32_t retry_after_seconds);

// {"code":N,"status":"error","message":"..."}; the message is JSON-escaped.
std::string error_body(api_code code, std::string_view message);

// {"code":200,"status":"ok","token":"..."}; a JWT is base64url and dots, never escaped.
std::string token_body(std::string_view token);

// {"code":200,"status":"ok","user":"...","exp":N}, the answer of /verify.
std::string verified_body(std::string_view user, std::int64_t exp);

// {"code":200,"status":"ok"}, the answer of /healthz and /readyz.
std::string_view ok_body() noexcept;

// Appends s to out as the inside of a JSON string (RFC 8259 section 7): quote, backslash and
// control characters escaped; other bytes copied as they are (the caller guarantees UTF-8).
void append_json_escaped(std::string& out, std::string_view s);

// True when s is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;

// The length (1 to 4) of the well-formed UTF-8 sequence that s begins with; 0 when s is empty or
// does not begin with one.
std::size_t utf8_sequence_length(std::string_view s) noexcept;

}  // namespace authd
