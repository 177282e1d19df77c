// Several signing keys with ids (RFC 7515 "kid"): the newest signs, every key verifies until it is
// removed from the key file (key_file.hpp says its format). HS256 keys (HMAC-SHA256, OpenSSL) and
// EdDSA keys (Ed25519, libsodium; RFC 8037), whose public halves are published as a JWK Set
// (RFC 7517).
//
// Tokens: with one HS256 key the header is the seed's, {"typ":"JWT","alg":"HS256"}, without kid;
// otherwise {"typ":"JWT","alg":"<alg>","kid":"<kid>"} (an EdDSA key always names its kid, so that
// a verifier holding the JWK Set can pick the key).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authd/crypto/jwt.hpp"
#include "authd/crypto/key_file.hpp"
#include "authd/crypto/secret.hpp"

namespace authd {

// What may be shown of a key: never its secret.
struct key_info {
    std::string kid;  // empty for the key of a raw key file
    key_algorithm alg = key_algorithm::hs256;
    bool signs = false;  // the newest key: it signs new tokens
};

// The keys of a key file, ready to sign and verify. Immutable once loaded, so shared freely
// between threads; a reload makes a new keyring (see keyring_holder).
class keyring {
  public:
    // Reads and checks a key file. Throws std::runtime_error naming the path and, for a key ring,
    // the line and the reason (never a secret).
    static std::shared_ptr<const keyring> load(const std::string& path);

    // One HS256 key without kid, as from a raw key file (tests, benchmarks). Throws
    // std::invalid_argument when the key is shorter than min_key_bytes.
    static std::shared_ptr<const keyring> from_secret(secret_bytes key);

    ~keyring();
    keyring(const keyring&) = delete;
    keyring& operator=(const keyring&) = delete;

    // A token for user (valid UTF-8) expiring at exp and issued at iat (unix seconds; no iat
    // claim without it), signed by the newest key.
    std::string sign(std::string_view user, std::int64_t exp,
                     std::optional<std::int64_t> iat = std::nullopt) const;
    void sign_into(std::string& out, std::string_view user, std::int64_t exp,
                   std::optional<std::int64_t> iat = std::nullopt) const;

    // Checks a token signed by any key of the ring: structure, header, signature, then its times
    // against now (unix seconds; check_token_times). A header with a kid is checked with that key
    // only and must be exactly the header authd writes for it (so its alg is that key's: no
    // algorithm confusion); a header without kid must be the seed's and is checked against the
    // HS256 keys.
    std::optional<token_claims> verify(std::string_view token, std::int64_t now,
                                       token_error* error = nullptr) const;

    // The JWK Set of the EdDSA keys, {"keys":[...]} (RFC 7517, RFC 8037), for
    // /.well-known/jwks.json; {"keys":[]} when the ring has none. HS256 secrets are never in it.
    // Built once at load.
    const std::string& jwks() const noexcept;

    // The keys, oldest first, without secrets (for logs and `authctl key list`).
    std::vector<key_info> keys() const;
    std::size_t size() const noexcept;

  private:
    struct key;
    keyring();
    void add(std::string kid, key_algorithm alg, secret_bytes secret);
    void finish();
    const key* find_by_header(std::string_view header_b64) const noexcept;
    std::optional<token_claims> verify_kidless(const token_parts& parts, std::int64_t now,
                                               token_error& err) const;

    std::vector<std::unique_ptr<key>> keys_;
    std::string jwks_;
};

}  // namespace authd
