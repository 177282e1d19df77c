#include <cmath>
#include <memory>
#include <string>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "authd/crypto/foreign_hash.hpp"
#include "authd/crypto/secret.hpp"

#include "hash_text.hpp"

namespace authd {

namespace {

using namespace detail;

constexpr double mib = 1024.0 * 1024.0;

// The cost model's rates: milliseconds per unit, measured on one core of the 2-core x86-64 build
// machine (Debian 12's libxcrypt 4.4.33, OpenSSL 3.0, libsodium 1.0.18) verifying each format at
// its tools' defaults; the estimate is within a factor of about 2 of what that took.
constexpr double bcrypt_ms_per_round = 0.11;  // cost 12 (4096 rounds): ~460 ms
// sha-crypt hashes the password in every round, so a round costs more the longer the password:
// milliseconds per 1,000 rounds, a fixed part and one per byte of password (200,000 rounds took
// 83 ms with an 8-byte password and 751 ms with a 511-byte one for sha256-crypt, 63 and 474 ms for
// sha512-crypt). The estimate is at sha_crypt_max_password_bytes, the longest password verified.
constexpr double sha256_crypt_ms_per_k_rounds = 0.36;
constexpr double sha256_crypt_ms_per_k_rounds_byte = 0.00665;
constexpr double sha512_crypt_ms_per_k_rounds = 0.28;
constexpr double sha512_crypt_ms_per_k_rounds_byte = 0.0041;
constexpr double md5_crypt_ms = 0.3;
constexpr double pbkdf2_sha1_ms_per_round = 0.0007;    // 1,300,000: ~830 ms
constexpr double pbkdf2_sha256_ms_per_round = 0.0008;  // Django's 260,000: ~230 ms
constexpr double pbkdf2_sha512_ms_per_round = 0.0014;  // Keycloak's 210,000: ~300 ms
constexpr double argon2_ms_per_mib_pass = 1.5;         // Django's 100 MiB, t=2, p=8: ~400 ms
constexpr double scrypt_ms_per_mib = 4.5;              // 64 MiB (passlib, mkpasswd): ~250-330 ms
constexpr double yescrypt_ms_per_mib = 2.0;            // 16 MiB (Debian's default): ~30 ms

// OpenSSL's PKCS5_PBKDF2_HMAC takes an int.
constexpr std::uint64_t max_pbkdf2_rounds = 0x7fffffff;

// PBKDF2 with fewer iterations than this is a fast hash: weak.
constexpr std::uint64_t pbkdf2_weak_below = 1000;

// The longest hash string looked at: every supported format is far shorter.
constexpr std::size_t max_hash_bytes = 512;

std::optional<parsed_hash> fail(std::string& problem, std::string message) {
    problem = std::move(message);
    return std::nullopt;
}

parsed_hash make(hash_format format, double ms, std::uint64_t memory = 0, bool weak = false) {
    return parsed_hash{format, hash_cost{ms, memory}, weak};
}

// $2b$CC$ + 22 characters of salt and 31 of hash.
std::optional<parsed_hash> parse_bcrypt(std::string_view h, hash_format format,
                                        std::string& problem) {
    if (!(starts_with(h, "$2a$") || starts_with(h, "$2b$") || starts_with(h, "$2y$"))) {
        return fail(problem, "unsupported bcrypt variant (only $2a$, $2b$ and $2y$ are)");
    }
    const auto digit = [&](std::size_t i) { return h[i] >= '0' && h[i] <= '9'; };
    if (h.size() != 60 || h[6] != '$' || !digit(4) || !digit(5) || !crypt64_chars(h.substr(7))) {
        return fail(problem, "malformed bcrypt hash");
    }
    const int cost = (h[4] - '0') * 10 + (h[5] - '0');
    if (cost < 4 || cost > 31) {
        return fail(problem, "bcrypt cost out of range (4 to 31)");
    }
    return make(format, std::ldexp(bcrypt_ms_per_round, cost));
}

// $5$ / $6$ [rounds=N$] salt $ hash
std::optional<parsed_hash> parse_sha_crypt(std::string_view h, hash_format format,
                                           std::string& problem) {
    const bool sha512 = format == hash_format::sha512_crypt;
    const auto parts = split(h.substr(3), '$');
    std::uint64_t rounds = 5000;
    std::size_t salt_at = 0;
    if (parts.size() == 3 && starts_with(parts[0], "rounds=")) {
        if (!parse_number(parts[0].substr(7), rounds) || rounds < 1000 || rounds > 999'999'999) {
            return fail(problem, "malformed sha-crypt rounds");
        }
        salt_at = 1;
    } else if (parts.size() != 2) {
        return fail(problem, "malformed sha-crypt hash");
    }
    const auto salt = parts[salt_at];
    const auto digest = parts[salt_at + 1];
    if (salt.size() > 16 || digest.size() != (sha512 ? 86U : 43U) || !crypt64_chars(digest)) {
        return fail(problem, "malformed sha-crypt hash");
    }
    const double per_k_rounds =
        sha512 ? sha512_crypt_ms_per_k_rounds +
                     sha512_crypt_ms_per_k_rounds_byte * sha_crypt_max_password_bytes
               : sha256_crypt_ms_per_k_rounds +
                     sha256_crypt_ms_per_k_rounds_byte * sha_crypt_max_password_bytes;
    return make(format, static_cast<double>(rounds) / 1000.0 * per_k_rounds);
}

// $y$ flags N r $ salt $ hash, as libxcrypt makes it (N = 2^(value+1), r = value+1).
std::optional<parsed_hash> parse_yescrypt(std::string_view h, std::string& problem) {
    const auto parts = split(h.substr(3), '$');
    if (parts.size() != 3 || parts[0].size() != 3 || parts[1].empty() || parts[2].size() != 43 ||
        !crypt64_chars(parts[0]) || !crypt64_chars(parts[1]) || !crypt64_chars(parts[2])) {
        return fail(problem,
                    "malformed or unsupported yescrypt parameters (libxcrypt's "
                    "three-character form only)");
    }
    const int n_log2 = crypt64_value(parts[0][1]) + 1;
    const int r = crypt64_value(parts[0][2]) + 1;
    if (n_log2 < 1 || n_log2 > 40) {
        return fail(problem, "malformed yescrypt parameters");
    }
    const double memory = std::ldexp(128.0 * r, n_log2);
    return make(hash_format::yescrypt, memory / mib * yescrypt_ms_per_mib,
                static_cast<std::uint64_t>(memory));
}

// $1$ salt $ hash
std::optional<parsed_hash> parse_md5_crypt(std::string_view h, std::string& problem) {
    const auto parts = split(h.substr(3), '$');
    if (parts.size() != 2 || parts[0].size() > 8 || parts[1].size() != 22 ||
        !crypt64_chars(parts[1])) {
        return fail(problem, "malformed md5-crypt hash");
    }
    return make(hash_format::md5_crypt, md5_crypt_ms, 0, true);
}

// $apr1$ salt $ hash (Apache's MD5, htpasswd's default)
std::optional<parsed_hash> parse_apr1(std::string_view h, std::string& problem) {
    const auto parts = split(h.substr(6), '$');
    if (parts.size() != 2 || parts[0].empty() || parts[0].size() > 8 || parts[1].size() != 22 ||
        !crypt64_chars(parts[1])) {
        return fail(problem, "malformed Apache apr1 hash");
    }
    return make(hash_format::apr1, md5_crypt_ms, 0, true);
}

// A little-endian number of count characters of crypt's base64 ($7$'s r and p).
std::uint64_t crypt64_number(std::string_view s) {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        value |= static_cast<std::uint64_t>(crypt64_value(s[i])) << (6 * i);
    }
    return value;
}

std::optional<parsed_hash> scrypt_cost(hash_format format, int n_log2, std::uint64_t r,
                                       std::uint64_t p, std::string& problem) {
    if (n_log2 < 1 || n_log2 > 40 || r == 0 || p == 0 || r >= (1U << 30) || p >= (1U << 30) ||
        r * p >= (1U << 30)) {
        return fail(problem, "malformed scrypt parameters");
    }
    const double memory = std::ldexp(128.0 * static_cast<double>(r), n_log2);
    return make(format, memory / mib * scrypt_ms_per_mib * static_cast<double>(p),
                static_cast<std::uint64_t>(memory + 128.0 * static_cast<double>(r * p)));
}

// $7$ N(1) r(5) p(5) salt $ hash(43), libsodium's and libxcrypt's form.
std::optional<parsed_hash> parse_scrypt7(std::string_view h, std::string& problem) {
    const auto dollar = h.find('$', 3);
    if (h.size() < 3 + 11 + 1 + 43 || h.size() + 1 > crypto_pwhash_scryptsalsa208sha256_STRBYTES ||
        dollar == std::string_view::npos || dollar < 14 || h.size() - dollar - 1 != 43 ||
        !crypt64_chars(h.substr(3, 11)) || !crypt64_chars(h.substr(dollar + 1))) {
        return fail(problem, "malformed scrypt ($7$) hash");
    }
    return scrypt_cost(hash_format::scrypt, crypt64_value(h[3]), crypt64_number(h.substr(4, 5)),
                       crypt64_number(h.substr(9, 5)), problem);
}

// $scrypt$ln=16,r=8,p=1$salt$hash (passlib; standard base64 without padding).
std::optional<parsed_hash> parse_passlib_scrypt(std::string_view h, std::string& problem) {
    const auto parts = split(h.substr(8), '$');
    key_values v;
    std::string bytes;
    if (parts.size() != 3 || !parse_three(parts[0], {"ln", "r", "p"}, v) ||
        !decode_base64(parts[1], sodium_base64_VARIANT_ORIGINAL_NO_PADDING, bytes, 1, 64) ||
        !decode_base64(parts[2], sodium_base64_VARIANT_ORIGINAL_NO_PADDING, bytes, 16, 64)) {
        return fail(problem, "malformed passlib scrypt hash");
    }
    return scrypt_cost(hash_format::passlib_scrypt, v.a > 40 ? 0 : static_cast<int>(v.a), v.b, v.c,
                       problem);
}

// PBKDF2 runs its iterations once per block of the digest's size that the derived key needs: a
// key longer than the digest multiplies the cost (a 128-byte PBKDF2-SHA1 value: 7 times).
double pbkdf2_blocks(hash_format format, std::size_t key_bytes) {
    std::size_t digest_bytes = 32;
    switch (format) {
        case hash_format::passlib_pbkdf2_sha1:
        case hash_format::django_pbkdf2_sha1:
            digest_bytes = 20;
            break;
        case hash_format::passlib_pbkdf2_sha512:
            digest_bytes = 64;
            break;
        default:
            break;
    }
    const std::size_t blocks = (key_bytes + digest_bytes - 1) / digest_bytes;
    return static_cast<double>(blocks);
}

double pbkdf2_rate(hash_format format) {
    switch (format) {
        case hash_format::passlib_pbkdf2_sha1:
        case hash_format::django_pbkdf2_sha1:
            return pbkdf2_sha1_ms_per_round;
        case hash_format::passlib_pbkdf2_sha512:
            return pbkdf2_sha512_ms_per_round;
        default:
            return pbkdf2_sha256_ms_per_round;
    }
}

// $pbkdf2[-sha256|-sha512]$rounds$salt$hash (passlib's adapted base64).
std::optional<parsed_hash> parse_passlib_pbkdf2(std::string_view h, hash_format format,
                                                std::size_t prefix, std::string& problem) {
    const auto parts = split(h.substr(prefix), '$');
    std::uint64_t rounds = 0;
    std::string bytes;
    if (parts.size() != 3 || !parse_number(parts[0], rounds) || rounds == 0 ||
        rounds > max_pbkdf2_rounds || !decode_ab64(parts[1], bytes, 0, 1024) ||
        !decode_ab64(parts[2], bytes, 16, 128)) {
        return fail(problem, "malformed passlib pbkdf2 hash");
    }
    return make(
        format,
        static_cast<double>(rounds) * pbkdf2_rate(format) * pbkdf2_blocks(format, bytes.size()), 0,
        rounds < pbkdf2_weak_below);
}

// pbkdf2_sha256$rounds$salt$hash (Django; the salt is used as it is, standard base64 hash).
std::optional<parsed_hash> parse_django_pbkdf2(std::string_view h, hash_format format,
                                               std::string& problem) {
    const auto parts = split(h.substr(h.find('$') + 1), '$');
    std::uint64_t rounds = 0;
    std::string bytes;
    if (parts.size() != 3 || !parse_number(parts[0], rounds) || rounds == 0 ||
        rounds > max_pbkdf2_rounds || parts[1].empty() ||
        !decode_base64(parts[2], sodium_base64_VARIANT_ORIGINAL, bytes, 16, 128)) {
        return fail(problem, "malformed Django pbkdf2 hash");
    }
    return make(
        format,
        static_cast<double>(rounds) * pbkdf2_rate(format) * pbkdf2_blocks(format, bytes.size()), 0,
        rounds < pbkdf2_weak_below);
}

// $argon2id$v=19$m=M,t=T,p=P$salt$hash (or $argon2i$)
std::optional<parsed_hash> parse_argon2(std::string_view h, hash_format format,
                                        std::string& problem) {
    const auto parts = split(h.substr(1), '$');
    key_values v;
    std::string bytes;
    if (parts.size() != 5 || parts[1] != "v=19" || !parse_three(parts[2], {"m", "t", "p"}, v) ||
        !decode_base64(parts[3], sodium_base64_VARIANT_ORIGINAL_NO_PADDING, bytes, 8, 64) ||
        !decode_base64(parts[4], sodium_base64_VARIANT_ORIGINAL_NO_PADDING, bytes, 16, 64)) {
        return fail(problem, "malformed argon2 hash (version 19 only)");
    }
    if (v.c == 0 || v.c > 255 || v.b == 0 || v.b > 0xffffffffU || v.a < 8 * v.c ||
        v.a > (std::uint64_t{1} << 32)) {
        return fail(problem, "argon2 parameters out of range");
    }
    const double memory = static_cast<double>(v.a) * 1024.0;
    return make(format, memory / mib * static_cast<double>(v.b) * argon2_ms_per_mib_pass,
                static_cast<std::uint64_t>(memory));
}

}  // namespace

std::string_view hash_format_name(hash_format format) noexcept {
    switch (format) {
        case hash_format::argon2id:
            return "argon2id";
        case hash_format::argon2i:
            return "argon2i";
        case hash_format::bcrypt:
            return "bcrypt";
        case hash_format::sha512_crypt:
            return "sha512-crypt";
        case hash_format::sha256_crypt:
            return "sha256-crypt";
        case hash_format::yescrypt:
            return "yescrypt";
        case hash_format::md5_crypt:
            return "md5-crypt";
        case hash_format::apr1:
            return "apr1";
        case hash_format::scrypt:
            return "scrypt";
        case hash_format::passlib_scrypt:
            return "passlib-scrypt";
        case hash_format::passlib_pbkdf2_sha1:
            return "pbkdf2-sha1";
        case hash_format::passlib_pbkdf2_sha256:
            return "pbkdf2-sha256";
        case hash_format::passlib_pbkdf2_sha512:
            return "pbkdf2-sha512";
        case hash_format::django_pbkdf2_sha256:
            return "django-pbkdf2-sha256";
        case hash_format::django_pbkdf2_sha1:
            return "django-pbkdf2-sha1";
        case hash_format::django_argon2:
            return "django-argon2";
        case hash_format::django_bcrypt_sha256:
            return "django-bcrypt-sha256";
        case hash_format::django_bcrypt:
            return "django-bcrypt";
    }
    return "unknown";
}

std::optional<parsed_hash> parse_hash(std::string_view h, std::string& problem) {
    if (h.size() > max_hash_bytes) {
        return fail(problem, "hash longer than " + std::to_string(max_hash_bytes) + " bytes");
    }
    for (const char c : h) {
        if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
            return fail(problem, "hash holds a space, control or non-ASCII character");
        }
    }
    if (starts_with(h, "$argon2id$")) {
        return parse_argon2(h, hash_format::argon2id, problem);
    }
    if (starts_with(h, "$argon2i$")) {
        return parse_argon2(h, hash_format::argon2i, problem);
    }
    if (starts_with(h, "$2")) {
        return parse_bcrypt(h, hash_format::bcrypt, problem);
    }
    if (starts_with(h, "$6$")) {
        return parse_sha_crypt(h, hash_format::sha512_crypt, problem);
    }
    if (starts_with(h, "$5$")) {
        return parse_sha_crypt(h, hash_format::sha256_crypt, problem);
    }
    if (starts_with(h, "$y$")) {
        return parse_yescrypt(h, problem);
    }
    if (starts_with(h, "$1$")) {
        return parse_md5_crypt(h, problem);
    }
    if (starts_with(h, "$7$")) {
        return parse_scrypt7(h, problem);
    }
    if (starts_with(h, "$scrypt$")) {
        return parse_passlib_scrypt(h, problem);
    }
    if (starts_with(h, "$pbkdf2-sha256$")) {
        return parse_passlib_pbkdf2(h, hash_format::passlib_pbkdf2_sha256, 15, problem);
    }
    if (starts_with(h, "$pbkdf2-sha512$")) {
        return parse_passlib_pbkdf2(h, hash_format::passlib_pbkdf2_sha512, 15, problem);
    }
    if (starts_with(h, "$pbkdf2$")) {
        return parse_passlib_pbkdf2(h, hash_format::passlib_pbkdf2_sha1, 8, problem);
    }
    if (starts_with(h, "pbkdf2_sha256$")) {
        return parse_django_pbkdf2(h, hash_format::django_pbkdf2_sha256, problem);
    }
    if (starts_with(h, "pbkdf2_sha1$")) {
        return parse_django_pbkdf2(h, hash_format::django_pbkdf2_sha1, problem);
    }
    if (starts_with(h, "argon2$argon2")) {
        auto inner = parse_hash(h.substr(6), problem);
        if (inner) {
            inner->format = hash_format::django_argon2;
        }
        return inner;
    }
    if (starts_with(h, "bcrypt_sha256$$2") || starts_with(h, "bcrypt$$2")) {
        const bool sha = starts_with(h, "bcrypt_sha256$");
        return parse_bcrypt(django_bcrypt_inner(h),
                            sha ? hash_format::django_bcrypt_sha256 : hash_format::django_bcrypt,
                            problem);
    }
    if (starts_with(h, "$apr1$")) {
        return parse_apr1(h, problem);
    }
    return fail(problem, "not a supported hash format (see authctl --help)");
}

std::string import_problem(std::string_view hash, const import_limits& limits) {
    std::string problem;
    const auto parsed = parse_hash(hash, problem);
    if (!parsed) {
        return problem;
    }
    const std::string name(hash_format_name(parsed->format));
    if (parsed->weak && !limits.allow_weak) {
        return name + " is a weak format (fast to guess offline); refused unless --allow-weak";
    }
    if (parsed->cost.memory_bytes > limits.max_memory_bytes) {
        return name + " needs " + std::to_string(parsed->cost.memory_bytes >> 20) +
               " MiB per verification, over the bound of " +
               std::to_string(limits.max_memory_bytes >> 20) +
               " MiB (raise it with --max-hash-memory)";
    }
    if (parsed->cost.milliseconds > limits.max_milliseconds) {
        return name + " costs about " +
               std::to_string(static_cast<long long>(parsed->cost.milliseconds)) +
               " ms per verification, over the bound of " +
               std::to_string(static_cast<long long>(limits.max_milliseconds)) +
               " ms (raise it with --max-hash-ms)";
    }
    return {};
}

}  // namespace authd
