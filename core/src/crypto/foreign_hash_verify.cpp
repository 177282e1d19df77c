#include <apr_md5.h>
#include <crypt.h>
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
        case hash_format::sha512_crypt:
        case hash_format::sha256_crypt:
            if (password.size() > sha_crypt_max_password_bytes) {
                // Never a match; the work of the longest password verified, no more (so the
                // time tells no more than that password's does).
                crypt_matches(hash, password.substr(0, sha_crypt_max_password_bytes));
                return false;
            }
            return crypt_matches(hash, password);
        case hash_format::scrypt:  // libsodium's own verifier refuses libxcrypt's (mkpasswd)
        case hash_format::bcrypt:
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
