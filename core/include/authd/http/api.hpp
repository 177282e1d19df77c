// The login API's response codes and messages (docs/api.md, after the original endpoint document).
//
// Every answer authd gives is a JSON object of the seed's shape:
//   {"code":200,"status":"ok","token":"<JWT>"}
//   {"code":402,"status":"error","message":"Required field < Password > is not specified."}
// The body code is the seed's; the HTTP status line is chosen per code (see http_status()).
#pragma once

#include <array>
#include <cstddef>
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

// The credential headers: a login's two, in the order the seed's parameter table lists them (a
// request lacking both reports the first), and /verify's token. A new header of a request goes
// before count; every fixed body below follows.
enum class credential_field : std::uint8_t { password, user_name, token, count };
inline constexpr std::size_t credential_field_count =
    static_cast<std::size_t>(credential_field::count);

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

// The API's fixed error bodies, built once (they live as long as the process): the missing,
// empty and duplicated field messages indexed by credential_field (of(), below), then one per
// fixed message.
struct canned_bodies {
    std::array<std::string, credential_field_count> missing;
    std::array<std::string, credential_field_count> empty;
    std::array<std::string, credential_field_count> duplicated;
    std::string data_not_found = error_body(api_code::not_found, msg_data_not_found);
    std::string path_not_found = error_body(api_code::not_found, msg_path_not_found);
    std::string method_not_allowed =
        error_body(api_code::method_not_allowed, msg_method_not_allowed);
    std::string headers_too_large = error_body(api_code::headers_too_large, msg_headers_too_large);
    std::string payload_too_large = error_body(api_code::payload_too_large, msg_payload_too_large);
    std::string bad_request = error_body(api_code::bad_request, msg_bad_request);
    std::string busy = error_body(api_code::busy, msg_busy);
    std::string internal = error_body(api_code::internal_error, msg_internal);
    std::string invalid_token = error_body(api_code::invalid_token, msg_invalid_token);

    canned_bodies();

    // The body of array for field f: canned().of(canned().missing, credential_field::token).
    static const std::string& of(const std::array<std::string, credential_field_count>& array,
                                 credential_field f) noexcept {
        return array[static_cast<std::size_t>(f)];
    }
};
const canned_bodies& canned() noexcept;

// A fixed error body for a code: the one of its fixed message (Data not found. for 404).
std::string_view canned_body(api_code code) noexcept;

}  // namespace authd
