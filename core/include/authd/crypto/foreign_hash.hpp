// Password hashes made by other systems (docs/operations.md, "Migrating users"): which format a
// hash string is in, what verifying it costs, and the verification itself, with the libraries
// made for each format (libxcrypt's crypt_rn for modular crypt, apr-util for Apache's apr1, OpenSSL
// for PBKDF2, libsodium for argon2 and passlib's scrypt). authctl imports such hashes; at login
// they verify like argon2id (in the hash helper process) and are replaced by an argon2id hash on
// the first success.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace authd {

enum class hash_format {
    argon2id,               // $argon2id$ (libsodium's own, or any parameters)
    argon2i,                // $argon2i$
    bcrypt,                 // $2a$, $2b$, $2y$
    sha512_crypt,           // $6$
    sha256_crypt,           // $5$
    yescrypt,               // $y$
    md5_crypt,              // $1$ (weak)
    apr1,                   // $apr1$ (weak; apr-util, htpasswd -m)
    scrypt,                 // $7$ (libxcrypt: mkpasswd -m scrypt)
    passlib_scrypt,         // $scrypt$ln=..,r=..,p=..$salt$hash
    passlib_pbkdf2_sha1,    // $pbkdf2$
    passlib_pbkdf2_sha256,  // $pbkdf2-sha256$
    passlib_pbkdf2_sha512,  // $pbkdf2-sha512$
    django_pbkdf2_sha256,   // pbkdf2_sha256$
    django_pbkdf2_sha1,     // pbkdf2_sha1$
    django_argon2,          // argon2$argon2id$ / argon2$argon2i$
    django_bcrypt_sha256,   // bcrypt_sha256$$2b$
    django_bcrypt,          // bcrypt$$2b$
};

// The longest password verified against a sha-crypt hash ($5$, $6$): sha-crypt hashes the
// password in each of its rounds, so its cost grows with the password's length (511 bytes cost 7
// to 9 times what 8 do). A longer password never matches such a hash; its verification does the
// work of a password of this length (so its time tells nothing more), and the import estimate is
// at this length: within the bound of about a second, passlib's defaults (535,000 and 656,000
// rounds) take passwords up to this length.
inline constexpr std::size_t sha_crypt_max_password_bytes = 128;

// The format's name as authctl prints it ("bcrypt", "django-pbkdf2-sha256", ...).
std::string_view hash_format_name(hash_format format) noexcept;

// What verifying a hash costs, from its parameters.
struct hash_cost {
    // Estimated milliseconds of one verification on one core of a 2020s x86-64 server (a model
    // from the parameters, within a factor of about 2; docs/security.md).
    double milliseconds = 0;
    std::uint64_t memory_bytes = 0;  // what the verification allocates (argon2, scrypt, yescrypt)
};

struct parsed_hash {
    hash_format format = hash_format::argon2id;
    hash_cost cost;
    bool weak = false;  // md5-crypt, too few PBKDF2 iterations: refused unless allowed
};

// The format and cost of hash, or nullopt (and why in problem) when it is in no supported format
// or malformed. Never verifies anything; cheap.
std::optional<parsed_hash> parse_hash(std::string_view hash, std::string& problem);

// What authctl accepts at import by default: a verification of about a second at most (some 30
// times the default argon2id), and 128 MiB. Every system's default in docs/operations.md is well
// inside; raised with authctl's --max-hash-ms and --max-hash-memory.
struct import_limits {
    double max_milliseconds = 1000;
    std::uint64_t max_memory_bytes = std::uint64_t{128} * 1024 * 1024;
    bool allow_weak = false;
};

// Why hash cannot be imported under limits (a message for the operator that holds no part of
// the hash), or "" when it can.
std::string import_problem(std::string_view hash, const import_limits& limits);

// True when password matches hash in any supported format (argon2 through libsodium, the others
// as parse_hash reads them); false for a mismatch and for anything unsupported or malformed.
// Compares in constant time. Blocking for as long as the hash's cost: authd calls it only in the
// hash helper process.
bool verify_any_hash(std::string_view hash, std::string_view password);

// True when hash is an argon2id string as libsodium makes it (p=1, 16-byte salt, 32-byte hash):
// anything else is upgraded at the next successful login, even at the same m and t.
bool is_native_argon2id(std::string_view hash) noexcept;

// The formats, for authctl --help.
extern const char* const supported_hash_formats_help;

}  // namespace authd
