// Several signing keys with ids (RFC 7515 "kid"): the newest signs, every key verifies until it is
// removed from the key file. HS256 keys (HMAC-SHA256, OpenSSL) and EdDSA keys (Ed25519, libsodium;
// RFC 8037), whose public halves are published as a JWK Set (RFC 7517).
//
// The key file is either
//   - a raw key: at least 32 bytes, the whole file is one HS256 secret (what `authctl key
//     generate` writes, and what authd always read), or
//   - a key ring: text, first line "authd-keyring 1", then one line per key, oldest first:
//         <kid> <alg> <secret, base64url without padding>
//     kid: 1 to 64 characters of [A-Za-z0-9_-]; alg: HS256 (a secret of 32 to 4096 bytes) or
//     EdDSA (the 32-byte Ed25519 seed). The last line is the newest key, the one that signs.
// Either way the file must be a regular file (not a symbolic link) that neither group nor others
// may access (mode 0600).
//
// Tokens: with one HS256 key the header is the seed's, {"typ":"JWT","alg":"HS256"}, without kid;
// otherwise {"typ":"JWT","alg":"<alg>","kid":"<kid>"} (an EdDSA key always names its kid, so that
// a verifier holding the JWK Set can pick the key).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authd/crypto/secret.hpp"
#include "authd/crypto/token_signer.hpp"

namespace authd {

enum class key_algorithm : std::uint8_t { hs256, eddsa };

// "HS256" or "EdDSA" (the JOSE names).
std::string_view algorithm_name(key_algorithm alg) noexcept;
// The algorithm of a JOSE name (exact, case-sensitive), or nullopt.
std::optional<key_algorithm> parse_algorithm(std::string_view name) noexcept;

// What may be shown of a key: never its secret.
struct key_info {
    std::string kid;  // empty for the key of a raw key file
    key_algorithm alg = key_algorithm::hs256;
    bool signs = false;  // the newest key: it signs new tokens
};

// The most keys a key ring may hold. A token without kid is checked against every HS256 key (it
// may come from a time the ring held one key), so the ring's size bounds the work a forged token
// can cause.
inline constexpr std::size_t max_ring_keys = 16;

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

// The key ring authd uses now, replaced on reload (SIGHUP) while I/O threads and hash workers keep
// signing and verifying. Reading it costs one relaxed atomic load per call (a plain load on x86):
// each thread caches the ring it saw last and takes the mutex only after a replace() (GCC 12's
// std::atomic<std::shared_ptr> takes a lock on every load).
class keyring_holder {
  public:
    explicit keyring_holder(std::shared_ptr<const keyring> initial);
    ~keyring_holder();
    keyring_holder(const keyring_holder&) = delete;
    keyring_holder& operator=(const keyring_holder&) = delete;

    // The current ring. The reference stays valid until this thread calls get() or current()
    // again (on any holder): the thread's cache keeps the ring alive until then. The cheapest
    // way in: no reference count is touched.
    const keyring& get() const;
    // The current ring, kept alive by the caller (copies a shared_ptr: an atomic increment).
    std::shared_ptr<const keyring> current() const;

    // Makes next the current ring. Threads see it at their next get()/current(); a token being
    // checked meanwhile is checked with the ring it started with. Thread-safe.
    void replace(std::shared_ptr<const keyring> next);

    // Shortcuts for get().sign(...) and get().verify(...), so that a holder can stand where a
    // token_signer stood.
    std::string sign(std::string_view user, std::int64_t exp,
                     std::optional<std::int64_t> iat = std::nullopt) const {
        return get().sign(user, exp, iat);
    }
    std::optional<token_claims> verify(std::string_view token, std::int64_t now,
                                       token_error* error = nullptr) const {
        return get().verify(token, now, error);
    }

  private:
    const std::shared_ptr<const keyring>& cached() const;

    const std::uint64_t id_;
    std::atomic<std::uint64_t> generation_{1};
    mutable std::mutex mutex_;
    std::shared_ptr<const keyring> ring_;  // guarded by mutex_
};

// --- Editing key files (authctl) ----------------------------------------------------------------

// One key with its secret (an HS256 secret, or an Ed25519 seed). Wiped when destroyed.
struct key_entry {
    std::string kid;  // empty only for the key of a raw key file
    key_algorithm alg = key_algorithm::hs256;
    secret_bytes secret;
};

// A key file's keys, oldest first, checked as keyring::load checks them.
struct key_file {
    bool raw = false;  // a raw key file: one HS256 key without kid
    std::vector<key_entry> keys;
};

// Reads a key file. Throws std::runtime_error as keyring::load does.
key_file read_key_file(const std::string& path);

// A new key: random secret (32 bytes for HS256, a random Ed25519 seed for EdDSA) and a random kid
// (8 random bytes, base64url) that none of taken uses.
key_entry make_key(key_algorithm alg, const std::vector<key_entry>& taken);

// Adds a new key to the key file at path, which becomes the signing key at authd's next (re)load.
// A raw key file becomes a key ring: its key keeps verifying under a new random kid (its tokens
// carry no kid and still verify). Returns the new key's kid. Throws std::runtime_error when the
// file cannot be read or written, or holds max_ring_keys keys already.
std::string rotate_key_file(const std::string& path, key_algorithm alg);

// Removes the key kid from the key ring at path; its tokens stop verifying at authd's next
// (re)load. Refuses (std::runtime_error) an unknown kid and the newest key, which signs: rotate
// first.
void remove_key(const std::string& path, std::string_view kid);

// Creates a key file that does not exist yet (never overwrites one): a raw 32-byte key for HS256
// (as before key rings), a key ring of one key for EdDSA. Returns the kid (empty for a raw file).
std::string create_key_file(const std::string& path, key_algorithm alg);

}  // namespace authd
