#include "authd/crypto/foreign_hash.hpp"

#include <apr_md5.h>
#include <array>
#include <charconv>
#include <cmath>
#include <crypt.h>
#include <memory>
#include <string>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "authd/crypto/secret.hpp"

namespace authd {

namespace {

constexpr double mib = 1024.0 * 1024.0;

// The cost model's rates: milliseconds per unit, measured on one core of the 2-core x86-64 build
// machine (Debian 12's libxcrypt 4.4.33, OpenSSL 3.0, libsodium 1.0.18) verifying each format at
// its tools' defaults; the estimate is within a factor of about 2 of what that took.
constexpr double bcrypt_ms_per_round = 0.11;       // cost 12 (4096 rounds): ~460 ms
constexpr double sha_crypt_ms_per_round = 0.0008;  // passlib's 656,000 rounds: ~510 ms
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

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

bool equal_in_constant_time(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> parts;
    for (;;) {
        const auto at = s.find(sep);
        parts.push_back(s.substr(0, at));
        if (at == std::string_view::npos) {
            return parts;
        }
        s.remove_prefix(at + 1);
    }
}

bool parse_number(std::string_view text, std::uint64_t& value) {
    if (text.empty() || text.size() > 19 || (text.size() > 1 && text[0] == '0')) {
        return false;
    }
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return ec == std::errc() && ptr == text.data() + text.size();
}

// Decodes base64 with libsodium (variant: sodium_base64_VARIANT_*); false unless all of text is
// valid and decodes to min..max bytes.
bool decode_base64(std::string_view text, int variant, std::string& out, std::size_t min,
                   std::size_t max) {
    out.resize(text.size());
    std::size_t length = 0;
    const char* end = nullptr;
    if (text.empty() ||
        sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                          text.size(), nullptr, &length, &end, variant) != 0 ||
        end != text.data() + text.size() || length < min || length > max) {
        return false;
    }
    out.resize(length);
    return true;
}

// passlib's "adapted base64": '.' for '+', no padding.
bool decode_ab64(std::string_view text, std::string& out, std::size_t min, std::size_t max) {
    std::string standard(text);
    for (char& c : standard) {
        if (c == '.') {
            c = '+';
        } else if (c == '+') {
            return false;
        }
    }
    return decode_base64(standard, sodium_base64_VARIANT_ORIGINAL_NO_PADDING, out, min, max);
}

// The value of one character of crypt's base64 alphabet ("./0-9A-Za-z"), or -1.
int crypt64_value(char c) {
    constexpr std::string_view alphabet =
        "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const auto at = alphabet.find(c);
    return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

bool crypt64_chars(std::string_view s) {
    for (const char c : s) {
        if (crypt64_value(c) < 0) {
            return false;
        }
    }
    return true;
}

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
    return make(format, static_cast<double>(rounds) * sha_crypt_ms_per_round);
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

struct key_values {
    std::uint64_t a = 0, b = 0, c = 0;
};

// "ka=1,kb=2,kc=3" with exactly these keys in this order.
bool parse_three(std::string_view text, std::array<std::string_view, 3> keys, key_values& out) {
    const auto items = split(text, ',');
    if (items.size() != 3) {
        return false;
    }
    std::uint64_t* values[] = {&out.a, &out.b, &out.c};
    for (std::size_t i = 0; i < 3; ++i) {
        const auto eq = items[i].find('=');
        if (eq == std::string_view::npos || items[i].substr(0, eq) != keys[i] ||
            !parse_number(items[i].substr(eq + 1), *values[i])) {
            return false;
        }
    }
    return true;
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
    return make(format, static_cast<double>(rounds) * pbkdf2_rate(format), 0,
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
    return make(format, static_cast<double>(rounds) * pbkdf2_rate(format), 0,
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

// The bcrypt hash inside a Django bcrypt or bcrypt_sha256 string.
std::string_view django_bcrypt_inner(std::string_view h) {
    return h.substr(h.find('$') + 1);
}

// crypt_rn(password, setting) == hash, in constant time; crypt's work area is wiped after.
bool crypt_matches(std::string_view hash, std::string_view password) {
    if (password.find('\0') != std::string_view::npos) {
        return false;  // crypt takes a C string: it would verify a prefix
    }
    std::string key(password);
    std::string setting(hash);
    auto data = std::make_unique<crypt_data>();
    const char* out = crypt_rn(key.c_str(), setting.c_str(), data.get(), sizeof *data);
    const bool match = out != nullptr && out[0] != '*' && equal_in_constant_time(out, hash);
    sodium_memzero(data.get(), sizeof *data);
    wipe(key);
    return match;
}

// apr-util's apr_md5_encode(password, hash) == hash, in constant time.
bool apr1_matches(std::string_view hash, std::string_view password) {
    if (password.find('\0') != std::string_view::npos) {
        return false;
    }
    std::string key(password);
    std::string setting(hash);
    char out[128] = {};
    const bool match = apr_md5_encode(key.c_str(), setting.c_str(), out, sizeof out) == 0 &&
                       equal_in_constant_time(out, hash);
    sodium_memzero(out, sizeof out);
    wipe(key);
    return match;
}

const EVP_MD* pbkdf2_digest(hash_format format) {
    switch (format) {
        case hash_format::passlib_pbkdf2_sha1:
        case hash_format::django_pbkdf2_sha1:
            return EVP_sha1();
        case hash_format::passlib_pbkdf2_sha512:
            return EVP_sha512();
        default:
            return EVP_sha256();
    }
}

bool pbkdf2_matches(hash_format format, std::uint64_t rounds, std::string_view salt,
                    std::string_view expected, std::string_view password) {
    std::string derived(expected.size(), '\0');
    const bool ok = PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                                      reinterpret_cast<const unsigned char*>(salt.data()),
                                      static_cast<int>(salt.size()), static_cast<int>(rounds),
                                      pbkdf2_digest(format), static_cast<int>(derived.size()),
                                      reinterpret_cast<unsigned char*>(derived.data())) == 1;
    const bool match = ok && equal_in_constant_time(derived, expected);
    wipe(derived);
    return match;
}

bool verify_pbkdf2(std::string_view h, hash_format format, std::string_view password) {
    const bool django = !starts_with(h, "$");
    const auto parts = split(h.substr(h.find('$', 1) + 1), '$');
    std::uint64_t rounds = 0;
    if (parts.size() != 3 || !parse_number(parts[0], rounds)) {
        return false;
    }
    std::string salt;
    std::string expected;
    if (django) {
        salt = parts[1];
        if (!decode_base64(parts[2], sodium_base64_VARIANT_ORIGINAL, expected, 16, 128)) {
            return false;
        }
    } else if (!decode_ab64(parts[1], salt, 0, 1024) || !decode_ab64(parts[2], expected, 16, 128)) {
        return false;
    }
    return pbkdf2_matches(format, rounds, salt, expected, password);
}

bool verify_passlib_scrypt(std::string_view h, std::string_view password) {
    const auto parts = split(h.substr(8), '$');
    key_values v;
    std::string salt;
    std::string expected;
    if (parts.size() != 3 || !parse_three(parts[0], {"ln", "r", "p"}, v) || v.a > 40 ||
        !decode_base64(parts[1], sodium_base64_VARIANT_ORIGINAL_NO_PADDING, salt, 1, 64) ||
        !decode_base64(parts[2], sodium_base64_VARIANT_ORIGINAL_NO_PADDING, expected, 16, 64)) {
        return false;
    }
    std::string derived(expected.size(), '\0');
    const bool ok = crypto_pwhash_scryptsalsa208sha256_ll(
                        reinterpret_cast<const std::uint8_t*>(password.data()), password.size(),
                        reinterpret_cast<const std::uint8_t*>(salt.data()), salt.size(),
                        std::uint64_t{1} << v.a, static_cast<std::uint32_t>(v.b),
                        static_cast<std::uint32_t>(v.c),
                        reinterpret_cast<std::uint8_t*>(derived.data()), derived.size()) == 0;
    const bool match = ok && equal_in_constant_time(derived, expected);
    wipe(derived);
    return match;
}

// Django's bcrypt_sha256: bcrypt over the hex SHA-256 of the password.
bool verify_django_bcrypt_sha256(std::string_view bcrypt_hash, std::string_view password) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(password.data()), password.size(), digest);
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    const bool match =
        crypt_matches(bcrypt_hash, std::string_view(hex, std::size_t{2} * SHA256_DIGEST_LENGTH));
    sodium_memzero(digest, sizeof digest);
    sodium_memzero(hex, sizeof hex);
    return match;
}

bool libsodium_verify(std::string_view h, std::string_view password) {
    const std::string phc(h);
    return crypto_pwhash_str_verify(phc.c_str(), password.data(), password.size()) == 0;
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

bool verify_any_hash(std::string_view hash, std::string_view password) {
    std::string problem;
    const auto parsed = parse_hash(hash, problem);
    if (!parsed) {
        return false;
    }
    switch (parsed->format) {
        case hash_format::argon2id:
        case hash_format::argon2i:
            return libsodium_verify(hash, password);
        case hash_format::django_argon2:
            return libsodium_verify(hash.substr(6), password);
        case hash_format::scrypt:  // libsodium's own verifier refuses libxcrypt's (mkpasswd)
        case hash_format::bcrypt:
        case hash_format::sha512_crypt:
        case hash_format::sha256_crypt:
        case hash_format::yescrypt:
        case hash_format::md5_crypt:
            return crypt_matches(hash, password);
        case hash_format::django_bcrypt:
            return crypt_matches(django_bcrypt_inner(hash), password);
        case hash_format::apr1:
            return apr1_matches(hash, password);
        case hash_format::django_bcrypt_sha256:
            return verify_django_bcrypt_sha256(django_bcrypt_inner(hash), password);
        case hash_format::passlib_scrypt:
            return verify_passlib_scrypt(hash, password);
        case hash_format::passlib_pbkdf2_sha1:
        case hash_format::passlib_pbkdf2_sha256:
        case hash_format::passlib_pbkdf2_sha512:
        case hash_format::django_pbkdf2_sha256:
        case hash_format::django_pbkdf2_sha1:
            return verify_pbkdf2(hash, parsed->format, password);
    }
    return false;
}

bool is_native_argon2id(std::string_view hash) noexcept {
    if (!starts_with(hash, "$argon2id$v=19$m=")) {
        return false;
    }
    const auto parts = split(hash.substr(1), '$');
    return parts.size() == 5 && parts[2].size() > 4 &&
           parts[2].substr(parts[2].size() - 4) == ",p=1" && parts[3].size() == 22 &&
           parts[4].size() == 43;
}

const char* const supported_hash_formats_help =
    R"(Hash formats for user import --hashes (checked by their prefix):
  $argon2id$, $argon2i$ (any m, t, p)   bcrypt $2a$ $2b$ $2y$
  sha512-crypt $6$, sha256-crypt $5$    yescrypt $y$ (Debian's /etc/shadow)
  scrypt $7$, passlib $scrypt$          passlib $pbkdf2$ $pbkdf2-sha256$ $pbkdf2-sha512$
  Django pbkdf2_sha256$ pbkdf2_sha1$ argon2$argon2id$ bcrypt_sha256$ bcrypt$
  md5-crypt $1$, Apache $apr1$ (weak: only with --allow-weak)
Keycloak realm exports (--keycloak): pbkdf2-sha256, pbkdf2-sha512, pbkdf2, argon2.
)";

}  // namespace authd
