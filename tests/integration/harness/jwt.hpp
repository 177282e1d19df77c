// What the integration tests check authd's answers with: its exact error bodies, and its tokens
// taken apart (base64url, the three parts of a JWT, the payload) or checked by PyJWT.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "processes.hpp"

namespace authd_it {

// --- JSON bodies and tokens ------------------------------------------------------------------

// The exact error body authd sends: {"code":N,"status":"error","message":"..."} (messages here
// need no escaping).
std::string error_body(int code, std::string_view message);

// The token of a {"code":200,"status":"ok","token":"..."} body, when the body has exactly that
// shape (and the token only base64url characters and two dots); nullopt otherwise.
std::optional<std::string> token_of(std::string_view body);

// Base64url (RFC 4648 section 5) without padding; nullopt on a bad character or length.
std::optional<std::string> base64url_decode(std::string_view text);

// The three parts of a JWT.
struct jwt_parts {
    std::string header;     // base64url, as sent
    std::string payload;    // decoded JSON text
    std::string signature;  // base64url, as sent
};
std::optional<jwt_parts> split_jwt(std::string_view token);

// The seed's token header, {"typ":"JWT","alg":"HS256"} in base64url.
inline constexpr std::string_view seed_jwt_header = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9";

// Parses a payload of exactly the shape {"user":"NAME","exp":DIGITS,"jti":"ID","iat":DIGITS};
// nullopt otherwise.
struct token_payload {
    std::string user;
    std::int64_t exp = 0;
};
std::optional<token_payload> parse_payload(std::string_view json);

// Runs tests/jwt_check.py (PyJWT): the key file path and the expected user in the environment,
// the token on standard input. True when the script accepts the token.
run_result jwt_check(const std::string& key_file, const std::string& user,
                     const std::string& token);

std::int64_t unix_now();

}  // namespace authd_it
