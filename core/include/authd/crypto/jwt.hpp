// HS256 JSON Web Tokens (RFC 7519, RFC 7515) signed with OpenSSL's HMAC-SHA256.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "authd/crypto/secret.hpp"

namespace authd {

// The claims authd puts in a token: {"user":"<name>","exp":<unix seconds>,"jti":"<id>",
// "iat":<unix seconds>}, and the nbf a token may carry (RFC 7519 section 4.1).
struct token_claims {
    std::string user;
    std::int64_t exp = 0;
    // The token's id (RFC 7519 section 4.1.7), what /logout revokes. A verified token without one
    // (the seed's format, or another issuer's) gets derived_token_id() of its bytes.
    std::string jti;
    // When it was issued (section 4.1.6). Absent in tokens of authd versions before iat, which a
    // user's token cutoff (a password change, a removal) refuses whatever their age.
    std::optional<std::int64_t> iat;
    std::optional<std::int64_t> nbf;  // not valid before (section 4.1.5); authd issues none
};

// How far the clocks of a token's issuer and its verifier may disagree: a token is accepted until
// exp + leeway, and from nbf - leeway and iat - leeway on (RFC 7519 sections 4.1.4-4.1.6 allow
// "some small leeway"). One second: NumericDates are whole seconds, and a login in the second of
// a password change is issued one second ahead (see login_service); nodes' clocks (and a
// PostgreSQL server's) must agree to well within it (NTP).
inline constexpr std::int64_t token_clock_leeway_seconds = 1;

// A new token id: 128 bits, unique across threads, processes and nodes (a random per-thread prefix
// and a per-thread counter), base64url. Not secret: a token's signature protects it.
std::string new_token_id();

enum class token_error : std::uint8_t {
    none,
    malformed,      // not three base64url parts, bad base64, bad JSON, too long
    bad_algorithm,  // header is not exactly the one authd signs with (alg none, RS256, ...)
    bad_signature,  // the MAC does not match (compared in constant time)
    expired,        // exp + leeway <= now
    unknown_key,    // the header names a kid that is not in the key ring (removed, or foreign)
    not_yet_valid,  // nbf or iat later than now + leeway
};

// One HS256 key (HMAC-SHA256): the key ring signs and checks its HS256 tokens with these; tests,
// benchmarks and the fuzzer use one alone as a second checker of the seed's token format.
// Thread-safe: each thread keeps its own keyed HMAC context, made once (no per-token algorithm
// fetch or key setup).
class hs256_key {
  public:
    // Throws std::invalid_argument when the key is shorter than min_key_bytes.
    explicit hs256_key(secret_bytes key);
    ~hs256_key();
    hs256_key(const hs256_key&) = delete;
    hs256_key& operator=(const hs256_key&) = delete;

    // header.payload.signature with the seed's header {"typ":"JWT","alg":"HS256"}. user must be
    // valid UTF-8 (it is JSON-escaped). Without iat, the token has no iat claim (as tokens of
    // earlier versions: tests).
    std::string sign(std::string_view user, std::int64_t exp,
                     std::optional<std::int64_t> iat = std::nullopt) const;
    void sign_into(std::string& out, std::string_view user, std::int64_t exp,
                   std::optional<std::int64_t> iat = std::nullopt) const;
    // The same with another header (base64url), such as one that names a kid (keyring).
    void sign_into(std::string& out, std::string_view header_b64, std::string_view user,
                   std::int64_t exp, std::optional<std::int64_t> iat) const;

    // Checks a token: structure, header, signature, then its times against now (unix seconds,
    // see check_token_times).
    std::optional<token_claims> verify(std::string_view token, std::int64_t now,
                                       token_error* error = nullptr) const;

    // The longest token verify() looks at.
    static constexpr std::size_t max_token_bytes = 4096;

    // The raw MAC of data (exposed for the benchmarks and the known-answer tests).
    void mac(std::string_view data, unsigned char out[32]) const;

    // Checks signature_b64 against the MAC of signing_input in constant time: none, malformed
    // (not base64url of 32 bytes) or bad_signature. Header and claims are the caller's business.
    token_error check_mac(std::string_view signing_input, std::string_view signature_b64) const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// The base64url (no padding) encoding of the seed's JWT header {"typ":"JWT","alg":"HS256"}.
inline constexpr std::string_view jwt_header_b64 = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9";

// Base64url without padding (RFC 4648 section 5) via libsodium.
void base64url_append(std::string& out, const unsigned char* data, std::size_t size);
// The same in constant time (libsodium), for secret bytes (keys written to a key file).
void base64url_append_secret(std::string& out, const unsigned char* data, std::size_t size);
// Decodes what base64url_append writes (public bytes only: not in constant time); nullopt for
// anything else (padding, another alphabet, whitespace, spare bits set).
std::optional<std::string> base64url_decode(std::string_view text);

// The pieces of a compact JWS, as views into the token.
struct token_parts {
    std::string_view header;         // base64url
    std::string_view payload;        // base64url
    std::string_view signature;      // base64url
    std::string_view signing_input;  // header.payload: what the signature covers
    std::string_view token;          // the whole of it
};

// Splits a token at its two dots; nullopt when it is longer than hs256_key::max_token_bytes or
// does not have exactly three parts.
std::optional<token_parts> split_token(std::string_view token);

// Appends header_b64 '.' base64url({"user":"<user>","exp":<exp>,"jti":"<new id>","iat":<iat>})
// (no iat claim without iat): the signing input.
void append_signing_input(std::string& out, std::string_view header_b64, std::string_view user,
                          std::int64_t exp, std::optional<std::int64_t> iat = std::nullopt);

// The claims of a payload (base64url JSON with a string "user" and an integer "exp"; "jti" a
// string, "iat" and "nbf" integers when present), or nullopt.
std::optional<token_claims> parse_claims(std::string_view payload_b64);

// The id /logout revokes a token by when it carries no jti (or an empty one): "sha256:" and the
// base64url SHA-256 of the whole token, 50 characters. One token has one encoding (a
// non-canonical one does not verify), so its id is its own; ':' is not base64url, so no id authd
// issues (new_token_id) is one.
std::string derived_token_id(std::string_view token);

// The time checks of RFC 7519 sections 4.1.4-4.1.6, each with token_clock_leeway_seconds: none,
// expired (exp + leeway <= now) or not_yet_valid (nbf or iat > now + leeway).
token_error check_token_times(const token_claims& claims, std::int64_t now) noexcept;

// The claims of a token whose signature verified: parsed, their times checked at now, and a jti
// derived from the token's bytes when it has none. nullopt, with err set, when they do not hold.
std::optional<token_claims> verified_claims(const token_parts& parts, std::int64_t now,
                                            token_error& err);

// Why a header authd does not accept was refused: malformed (not base64url JSON object) or
// bad_algorithm (valid JSON, but not a header authd issues).
token_error header_error(std::string_view header_b64);

}  // namespace authd
