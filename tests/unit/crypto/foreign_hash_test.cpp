#include "authd/crypto/foreign_hash.hpp"

#include <crypt.h>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <sodium.h>

#include "authd/crypto/password_hasher.hpp"

namespace authd {
namespace {

// Made by the real tools (htpasswd -B -C 4, mkpasswd, openssl passwd, Django 3.2's hashers and
// passlib 1.7 from Debian 12) for the password "s3cret pw", at low costs: see
// tests/integration/legacy_hash_test.cpp for the same tools at their defaults, through the server.
struct vector {
    const char* tool;
    hash_format format;
    const char* hash;
};

const vector vectors[] = {
    {"htpasswd -B -C 4", hash_format::bcrypt,
     R"($2y$04$xLpJAAGpVzbC.ccvLuiv7.LGh1twor2es2J61AzMFe6p6MFiDq2k2)"},
    {"mkpasswd -m bcrypt-a", hash_format::bcrypt,
     R"($2a$05$kp.4nScnCp/Jw2UPeaP3TuvrgQV7dO2QfAFUNBA5nicfliIQeVbPy)"},
    {"mkpasswd -m sha512crypt -R 1000", hash_format::sha512_crypt,
     R"($6$rounds=1000$ixYm5ScHbpTnBsS8$ek6M1SxVhHi1hniXSboUDbLrm9qFMGDc2f5E/fG3gIZxMd5aHcD2iMNUtSbsCGdv9fpovXDmiHdFfsWUiJem90)"},
    {"openssl passwd -6", hash_format::sha512_crypt,
     R"($6$UqQmwEhB0deE0SwS$uGnYI96zOAm0FWJCMtEJUGv903j0mDCd/0SgM3DuDW2/ZMfNFEnSfPnEGqtwYbMLUP7P7tz9FhivCODDYOizM.)"},
    {"openssl passwd -5", hash_format::sha256_crypt,
     R"($5$c9rGi.7hacEzLBnU$5j95jRbljkRF9SjKiHXZcfsQ.tAEZ4vxKZfeoBG8hI7)"},
    {"mkpasswd -m sha256crypt", hash_format::sha256_crypt,
     R"($5$Vf/sctpLsXoprKKE$qtoiKimK3DhbOd9BBvtJSBgyYspeyd/NgeVJBXHKXB5)"},
    {"mkpasswd -m yescrypt -R 1", hash_format::yescrypt,
     R"($y$j75$VOd/Ds7zTJzu8Qk/3ZJPx1$VtrieHXo4Hjh9bFpak0OrVYdJJtq4Nc5ijZr/LelHC0)"},
    {"htpasswd -m", hash_format::apr1, R"($apr1$7g.11bdQ$PmZbmVpTift3MoXizIGTr.)"},
    {"openssl passwd -apr1", hash_format::apr1, R"($apr1$8hhCPFC1$oNPuR6gHaG7sucTDURAEz0)"},
    {"openssl passwd -1", hash_format::md5_crypt, R"($1$kDBWicZV$do73DALz2rx.TwoOYAN8u.)"},
    {"mkpasswd -m scrypt -R 6", hash_format::scrypt,
     R"($7$BU..../....JerEiqJjgxvmYqshe2m7i/$IvUdUsVhxpDlThUF8X9fZ.aCb9RNDd1UjmdVcRGz3dB)"},
    {"dj_pbkdf2_sha256", hash_format::django_pbkdf2_sha256,
     R"(pbkdf2_sha256$1000$83ABwqXPRtwj1VFn0njvNl$8c6J1j4UUkifU8OuVXoAsQNN7HeN3RvAwdIn1jPFpy0=)"},
    {"dj_pbkdf2_sha1", hash_format::django_pbkdf2_sha1,
     R"(pbkdf2_sha1$1000$RY1wZFUX8PW8ys3a11gFti$AgK9TJ/eRErnF7yG6VwTK20YVXQ=)"},
    {"dj_argon2", hash_format::django_argon2,
     R"(argon2$argon2id$v=19$m=256,t=1,p=8$T1JUd2ppUGk0NzJPSmh0d2ZlVkRncQ$2lNaQOetC0X75o1LfivriQ)"},
    {"dj_bcrypt_sha256", hash_format::django_bcrypt_sha256,
     R"(bcrypt_sha256$$2b$04$HHqRMJsXSbRnM7UYs4u05eKbUG0e7Q.ctclh7RWNa260GouiEiDx.)"},
    {"dj_bcrypt", hash_format::django_bcrypt,
     R"(bcrypt$$2b$04$bY/e.4AsZqY5LS9K1dLDgOlCzQvVGdFQVLjaL4xr5RBPl8mJa1dai)"},
    {"pl_pbkdf2_sha256", hash_format::passlib_pbkdf2_sha256,
     R"($pbkdf2-sha256$1000$sBZCCGFsTem99x7DWKsVYg$GRF5v4qr11.yHoUUDMgSydAOo74Ks//qGNNRWT.yYU0)"},
    {"pl_pbkdf2_sha512", hash_format::passlib_pbkdf2_sha512,
     R"($pbkdf2-sha512$1000$OGeMMUbofY.Rsrb2Pud8Lw$4Nl360l5D08o5SwxsX3ubL4041kLD1bdotDKJNb/9Ue2QDQHoJVaIcdOBa5q7ajZ1sCXqqgP/lI.8.eYxbt/QQ)"},
    {"pl_pbkdf2_sha1", hash_format::passlib_pbkdf2_sha1,
     R"($pbkdf2$1000$EUKI8V4rRSjFeC9FyJkzhg$UZJe5U99gj6sClcrlriDDNZAzHI)"},
    {"pl_scrypt", hash_format::passlib_scrypt,
     R"($scrypt$ln=6,r=8,p=2$sJbS+v/fm5Py/j+HEAIAwA$TGTySvUrZuM0GmAUC5ccrlpMXe46ONeFvJjfAFXHXZs)"},
    {"pl_argon2id", hash_format::argon2id,
     R"($argon2id$v=19$m=256,t=1,p=4$MOZci/F+r1VKKWXsPUcoZQ$s8rC2MdYvhxijoCS4o48JA)"},
    {"pl_argon2i", hash_format::argon2i,
     R"($argon2i$v=19$m=64,t=2,p=1$RCgFIGQModSas5aSci5l7A$ECR3vpPJs23q52RIjK9KZg)"},
};

constexpr const char* password = "s3cret pw";

TEST(ForeignHash, EveryToolsHashVerifiesTheRightPasswordOnly) {
    for (const auto& v : vectors) {
        SCOPED_TRACE(v.tool);
        std::string problem;
        const auto parsed = parse_hash(v.hash, problem);
        ASSERT_TRUE(parsed) << problem;
        EXPECT_EQ(parsed->format, v.format) << hash_format_name(parsed->format);
        EXPECT_TRUE(verify_any_hash(v.hash, password));
        EXPECT_FALSE(verify_any_hash(v.hash, "s3cret pW"));
        EXPECT_FALSE(verify_any_hash(v.hash, "s3cret p"));
        EXPECT_FALSE(verify_any_hash(v.hash, ""));
        EXPECT_FALSE(is_native_argon2id(v.hash));
    }
}

TEST(ForeignHash, TheHasherVerifiesForeignHashesAndAlwaysRehashesThem) {
    const password_hasher hasher(argon2_params{1, 8 * 1024});
    for (const auto& v : vectors) {
        SCOPED_TRACE(v.tool);
        EXPECT_TRUE(hasher.verify(v.hash, password));
        EXPECT_FALSE(hasher.verify(v.hash, "wrong"));
        EXPECT_TRUE(hasher.needs_rehash(v.hash));
    }
    const auto native = hasher.hash(password);
    EXPECT_TRUE(is_native_argon2id(native));
    EXPECT_FALSE(hasher.needs_rehash(native));
}

TEST(ForeignHash, Argon2idWithOtherLanesOrLengthsIsRehashedAtTheSameMemoryAndTime) {
    // python3-argon2 at m=19456, t=2 (authd's defaults) but p=4 and a 16-byte hash: libsodium
    // itself calls it current.
    const std::string p4 =
        "$argon2id$v=19$m=19456,t=2,p=4$tUcfzxeEVWCHE6HaSrYbFw$07POGBqxIOf1ABSEUCMliw";
    const password_hasher hasher(argon2_params{});
    EXPECT_FALSE(is_native_argon2id(p4));
    EXPECT_TRUE(hasher.needs_rehash(p4));
}

TEST(ForeignHash, MalformedAndUnsupportedHashesAreRefusedAndNeverMatch) {
    const char* bad[] = {
        "",
        "plaintext",
        "$apr1$8hhCPFC1$oNPuR6gHaG7sucTDURAEz",
        "$2x$05$ED/qXO2k7s1sr7B3iFk4HeLjNIwyr4JhvqvUy9EkONVCK.981lEU.",
        "$2y$03$ED/qXO2k7s1sr7B3iFk4HeLjNIwyr4JhvqvUy9EkONVCK.981lEU.",
        "$2y$05$ED/qXO2k7s1sr7B3iFk4HeLjNIwyr4JhvqvUy9EkONVCK.981lEU",
        "$6$rounds=10$ixYm5ScHbpTnBsS8$ek6M1SxVhHi1hniXSboUDbLrm9qFMGDc2f5E/"
        "fG3gIZxMd5aHcD2iMNUtSbsCGdv9fpovXDmiHdFfsWUiJem90",
        "$6$UqQmwEhB0deE0SwS$uGnYI96zOAm0",
        "$pbkdf2-sha256$0$sBZCCGFsTem99x7DWKsVYg$GRF5v4qr11.yHoUUDMgSydAOo74Ks//qGNNRWT.yYU0",
        "$pbkdf2-sha256$1000$sBZCCGFsTem99x7DWKsVYg$GRF5v4qr11+yHoUUDMgSydAOo74Ks//qGNNRWT.yYU0",
        "pbkdf2_sha256$1000$83ABwqXPRtwj1VFn0njvNl$8c6J1j4UUkifU8OuVXoAsQNN7HeN3RvAwdIn1jPFpy0",
        "$argon2id$v=16$m=256,t=1,p=4$MOZci/F+r1VKKWXsPUcoZQ$s8rC2MdYvhxijoCS4o48JA",
        "$argon2id$v=19$m=4,t=1,p=4$MOZci/F+r1VKKWXsPUcoZQ$s8rC2MdYvhxijoCS4o48JA",
        "$scrypt$ln=99,r=8,p=2$sJbS+v/fm5Py/j+HEAIAwA$TGTySvUrZuM0GmAUC5ccrlpMXe46ONeFvJjfAFXHXZs",
        "$scrypt$ln=6,r=8589934592,p=2147483648$sJbS+v/fm5Py/"
        "j+HEAIAwA$TGTySvUrZuM0GmAUC5ccrlpMXe46ONeFvJjfAFXHXZs",
        "$pbkdf2-sha256$4294967295$sBZCCGFsTem99x7DWKsVYg$GRF5v4qr11.yHoUUDMgSydAOo74Ks//"
        "qGNNRWT.yYU0",
        "$y$j75$VOd/Ds7zTJzu8Qk/3ZJPx1$VtrieHXo4Hjh9bFp",
        "{SHA}abc=",
        "$6$UqQmwEhB0deE0SwS$uGnYI96zOAm0FWJCMtEJUGv903j0mDCd/0SgM3DuDW2/"
        "ZMfNFEnSfPnEGqtwYbMLUP7P7tz9FhivCODDYOizM. ",
    };
    for (const char* h : bad) {
        SCOPED_TRACE(h);
        std::string problem;
        EXPECT_FALSE(parse_hash(h, problem));
        EXPECT_FALSE(problem.empty());
        EXPECT_FALSE(import_problem(h, import_limits{}).empty());
        EXPECT_FALSE(verify_any_hash(h, password));
    }
    EXPECT_FALSE(verify_any_hash(std::string(100000, '$'), password));
}

// Base64 of n zero bytes (every bit after the last byte zero, as strict decoders want), without
// padding: in the standard alphabet and in crypt's ("./0-9A-Za-z"), whose zero is '.'.
std::string b64(std::size_t n) {
    return std::string((4 * n + 2) / 3, 'A');
}
std::string c64(std::size_t n) {
    return std::string(n, '.');
}

struct bound_row {
    std::string hash;
    bool parses;
};

// Each format's grammar at its edges: a value at a bound parses, one past it does not, and each
// condition of a format alone refuses a hash (one bad part among good ones).
TEST(ForeignHash, EachFormatsBoundsAreExact) {
    const auto argon2 = [](const std::string& mtp, std::size_t salt, std::size_t hash) {
        return "$argon2id$v=19$" + mtp + "$" + b64(salt) + "$" + b64(hash);
    };
    const auto passlib_scrypt = [](const std::string& lrp, std::size_t salt, std::size_t hash) {
        return "$scrypt$" + lrp + "$" + b64(salt) + "$" + b64(hash);
    };
    // $7$: N (log2) in one crypt64 character, r and p in five, the salt, then 43 characters.
    const auto scrypt7 = [](char n, const std::string& r, const std::string& p,
                            const std::string& salt, const std::string& hash) {
        return "$7$" + std::string(1, n) + r + p + salt + "$" + hash;
    };
    const std::string r8 = "6....", p1 = "/....", zero = ".....";
    const std::string salt = "JerEiqJjgxvmYqshe2m7i/", h43 = c64(43);
    const auto yescrypt = [](const std::string& params, const std::string& salt,
                             const std::string& hash) {
        return "$y$" + params + "$" + salt + "$" + hash;
    };
    // Django keeps its salt as it is: a hash of exactly 512 bytes, the longest taken.
    const auto django = [](std::size_t total) {
        const std::string head = "pbkdf2_sha256$260000$", tail = "$" + b64(32) + "=";
        return head + std::string(total - head.size() - tail.size(), 's') + tail;
    };
    const bound_row rows[] = {
        {argon2("m=65536,t=3,p=4", 16, 32), true},
        {argon2("m=65536,t=3,p=4", 8, 32), true},
        {argon2("m=65536,t=3,p=4", 7, 32), false},
        {argon2("m=65536,t=3,p=4", 64, 32), true},
        {argon2("m=65536,t=3,p=4", 65, 32), false},
        {argon2("m=65536,t=3,p=4", 16, 16), true},
        {argon2("m=65536,t=3,p=4", 16, 15), false},
        {argon2("m=65536,t=3,p=4", 16, 64), true},
        {argon2("m=65536,t=3,p=4", 16, 65), false},
        {argon2("m=2040,t=1,p=255", 16, 32), true},
        {argon2("m=2048,t=1,p=256", 16, 32), false},
        {argon2("m=64,t=1,p=0", 16, 32), false},
        {argon2("m=32,t=1,p=4", 16, 32), true},
        {argon2("m=31,t=1,p=4", 16, 32), false},
        {argon2("m=64,t=0,p=1", 16, 32), false},
        {argon2("m=64,t=4294967295,p=1", 16, 32), true},
        {argon2("m=64,t=4294967296,p=1", 16, 32), false},
        {argon2("m=4294967296,t=1,p=1", 16, 32), true},
        {argon2("m=4294967297,t=1,p=1", 16, 32), false},
        {passlib_scrypt("ln=16,r=8,p=1", 16, 32), true},
        {passlib_scrypt("ln=16,r=8,p=1", 1, 32), true},
        {passlib_scrypt("ln=16,r=8,p=1", 0, 32), false},
        {passlib_scrypt("ln=16,r=8,p=1", 64, 32), true},
        {passlib_scrypt("ln=16,r=8,p=1", 65, 32), false},
        {passlib_scrypt("ln=16,r=8,p=1", 16, 16), true},
        {passlib_scrypt("ln=16,r=8,p=1", 16, 15), false},
        {passlib_scrypt("ln=16,r=8,p=1", 16, 64), true},
        {passlib_scrypt("ln=16,r=8,p=1", 16, 65), false},
        {passlib_scrypt("ln=1,r=1,p=1", 16, 32), true},
        // r and p each below 2^30 on their own: their product wraps past 2^64 to 0 otherwise.
        {passlib_scrypt("ln=1,r=9223372036854775808,p=2", 16, 32), false},
        {passlib_scrypt("ln=1,r=2,p=9223372036854775808", 16, 32), false},
        {passlib_scrypt("ln=0,r=1,p=1", 16, 32), false},
        {passlib_scrypt("ln=40,r=1,p=1", 16, 32), true},
        {passlib_scrypt("ln=41,r=1,p=1", 16, 32), false},
        {passlib_scrypt("ln=16,r=0,p=1", 16, 32), false},
        {passlib_scrypt("ln=16,r=1,p=0", 16, 32), false},
        {passlib_scrypt("ln=16,r=1073741823,p=1", 16, 32), true},
        {passlib_scrypt("ln=16,r=1073741824,p=1", 16, 32), false},
        {passlib_scrypt("ln=16,r=1,p=1073741823", 16, 32), true},
        {passlib_scrypt("ln=16,r=1,p=1073741824", 16, 32), false},
        {passlib_scrypt("ln=16,r=32767,p=32768", 16, 32), true},
        {passlib_scrypt("ln=16,r=32768,p=32768", 16, 32), false},
        {scrypt7('C', r8, p1, salt, h43), true},
        {scrypt7('/', r8, p1, salt, h43), true},   // N = 2^1
        {scrypt7('.', r8, p1, salt, h43), false},  // N = 2^0
        {scrypt7('c', r8, p1, salt, h43), true},   // 2^40
        {scrypt7('d', r8, p1, salt, h43), false},  // 2^41
        {scrypt7('C', zero, p1, salt, h43), false},
        {scrypt7('C', r8, zero, salt, h43), false},
        {scrypt7('C', p1, p1, salt, h43), true},                  // r = p = 1
        {scrypt7('C', r8, p1, "", h43), true},                    // the shortest: no salt
        {scrypt7('C', r8, p1, std::string(43, 's'), h43), true},  // the longest libsodium takes
        {scrypt7('C', r8, p1, std::string(44, 's'), h43), false},
        {scrypt7('C', r8, p1, salt, c64(42)), false},
        {scrypt7('C', r8, p1, salt, c64(44)), false},
        {scrypt7('C', "6..!.", p1, salt, h43), false},
        {scrypt7('C', r8, p1, salt, c64(42) + "!"), false},
        {"$7$C" + r8 + p1 + salt + h43, false},  // no '$' before the hash
        {yescrypt("j9T", "3SlP1fm0iA7d3r6KpULmv.", h43), true},
        {yescrypt("jbT", "3SlP1fm0iA7d3r6KpULmv.", h43), true},   // N = 2^40
        {yescrypt("jcT", "3SlP1fm0iA7d3r6KpULmv.", h43), false},  // 2^41
        {yescrypt("j9", "3SlP1fm0iA7d3r6KpULmv.", h43), false},
        {yescrypt("j9TT", "3SlP1fm0iA7d3r6KpULmv.", h43), false},
        {yescrypt("j9T", "", h43), false},
        {yescrypt("j9T", "3SlP1fm0iA7d3r6KpULmv.", c64(42)), false},
        {yescrypt("j9T", "3SlP1fm0iA7d3r6KpULmv.", c64(44)), false},
        {yescrypt("j!T", "3SlP1fm0iA7d3r6KpULmv.", h43), false},
        {yescrypt("j9T", "3SlP1fm0iA7d3r6Kp!Lmv.", h43), false},
        {yescrypt("j9T", "3SlP1fm0iA7d3r6KpULmv.", c64(42) + "!"), false},
        {"$y$j9T$3SlP1fm0iA7d3r6KpULmv.", false},
        {yescrypt("j9T", "3SlP1fm0iA7d3r6KpULmv.", h43) + "$" + h43, false},
        {django(512), true},
        {django(513), false},
        {"pbkdf2_sha256$260000$$" + b64(32) + "=", false},  // Django's salt is never empty
        // Django's PBKDF2 (standard base64, padded): a hash of 16 to 128 bytes.
        {"pbkdf2_sha256$260000$salt$" + b64(16) + "==", true},
        {"pbkdf2_sha256$260000$salt$" + b64(15), false},
        {"pbkdf2_sha256$260000$salt$" + b64(128) + "=", true},
        {"pbkdf2_sha256$260000$salt$" + b64(129), false},
        // md5-crypt and Apache's apr1: a salt of at most 8 characters (apr1's never empty), and
        // 22 of hash.
        {"$1$" + std::string(8, 's') + "$" + c64(22), true},
        {"$1$" + std::string(9, 's') + "$" + c64(22), false},
        {"$apr1$" + std::string(8, 's') + "$" + c64(22), true},
        {"$apr1$" + std::string(9, 's') + "$" + c64(22), false},
        {"$apr1$$" + c64(22), false},
        {"$apr1$ssss$" + c64(21), false},
        {"$apr1$ssss$" + c64(23), false},
        // A number is digits and nothing else.
        {"$6$rounds=5000x$TdQXkS0LVT0ewGtk$" + c64(86), false},
        {"$6$rounds=$TdQXkS0LVT0ewGtk$" + c64(86), false},
        {"$6$rounds=5000$TdQXkS0LVT0ewGtk$" + c64(86), true},
        {"pbkdf2_sha256$260000x$salt$" + b64(32) + "=", false},
        {"$pbkdf2-sha256$1000 $" + b64(16) + "$" + b64(32), false},
        {"$argon2id$v=19$m=65536,t=3x,p=4$" + b64(16) + "$" + b64(32), false},
        // passlib's PBKDF2: a hash of 16 to 128 bytes.
        {"$pbkdf2-sha256$1000$" + b64(16) + "$" + b64(16), true},
        {"$pbkdf2-sha256$1000$" + b64(16) + "$" + b64(15), false},
        {"$pbkdf2-sha256$1000$" + b64(16) + "$" + b64(128), true},
        {"$pbkdf2-sha256$1000$" + b64(16) + "$" + b64(129), false},
    };
    for (const auto& row : rows) {
        SCOPED_TRACE(row.hash);
        std::string problem;
        EXPECT_EQ(parse_hash(row.hash, problem).has_value(), row.parses) << problem;
        EXPECT_EQ(problem.empty(), row.parses) << problem;
    }
    std::string problem;
    ASSERT_FALSE(parse_hash(django(513), problem));
    EXPECT_EQ(problem, "hash longer than 512 bytes");
}

// Verification keeps the bounds import has: a passlib scrypt string whose checksum is one byte
// short of the 16 parse wants is never a match, even computed from the right password (a store
// written by hand holds what authctl would refuse: authd does not check fewer bits than it
// promises).
TEST(ForeignHash, VerificationRefusesAChecksumShorterThanImportTakes) {
    const std::string salt = "0123456789abcdef";
    const auto passlib_scrypt = [&](std::size_t checksum_bytes) {
        std::string derived(checksum_bytes, '\0');
        EXPECT_EQ(crypto_pwhash_scryptsalsa208sha256_ll(
                      reinterpret_cast<const std::uint8_t*>(password), std::strlen(password),
                      reinterpret_cast<const std::uint8_t*>(salt.data()), salt.size(), 16, 8, 1,
                      reinterpret_cast<std::uint8_t*>(derived.data()), derived.size()),
                  0);
        const auto encode = [](const std::string& bytes) {
            std::string out(
                sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL_NO_PADDING),
                '\0');
            sodium_bin2base64(out.data(), out.size(),
                              reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                              sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
            out.resize(std::strlen(out.c_str()));
            return out;
        };
        return "$scrypt$ln=4,r=8,p=1$" + encode(salt) + "$" + encode(derived);
    };
    const auto sixteen = passlib_scrypt(16);
    std::string problem;
    ASSERT_TRUE(parse_hash(sixteen, problem)) << problem;
    EXPECT_TRUE(verify_any_hash(sixteen, password));
    const auto fifteen = passlib_scrypt(15);
    EXPECT_FALSE(parse_hash(fifteen, problem));
    EXPECT_FALSE(verify_any_hash(fifteen, password));
}

// PBKDF2 under 1,000 rounds is weak (an allowance imports it); 1,000 is not, in either family.
TEST(ForeignHash, PbkdfTwoIsWeakBelowAThousandRoundsExactly) {
    import_limits allowed;
    allowed.allow_weak = true;
    for (const std::string rounds : {"999", "1000"}) {
        const bool weak = rounds == "999";
        for (const auto& h :
             {"$pbkdf2-sha256$" + rounds + "$sBZCCGFsTem99x7DWKsVYg$" + b64(32),
              "pbkdf2_sha256$" + rounds + "$HaPyExhtZCZSQpgBC09uOS$" + b64(32) + "="}) {
            SCOPED_TRACE(h);
            const auto problem = import_problem(h, import_limits{});
            EXPECT_EQ(problem.find("weak") != std::string::npos, weak) << problem;
            EXPECT_EQ(import_problem(h, allowed), "");
        }
    }
}

TEST(ForeignHash, TheDefaultsOfTheSystemsPeopleMigrateFromImportWithDefaultLimits) {
    const char* defaults[] = {
        // Django 3.2 (Debian 12) and 5.x PBKDF2; its argon2 (100 MiB, t=2, p=8); bcrypt_sha256 12.
        "pbkdf2_sha256$260000$HaPyExhtZCZSQpgBC09uOS$pgY6S6hePBmniqnrOzQN2soBYnMiAXT4w+epPKEqvRE=",
        "pbkdf2_sha256$1000000$HaPyExhtZCZSQpgBC09uOS$pgY6S6hePBmniqnrOzQN2soBYnMiAXT4w+epPKEqvRE=",
        "argon2$argon2id$v=19$m=102400,t=2,p=8$aU9iSzFPdFZUNG5tYmlFNEJNUmpxdw$nwYTzO02tvOV0/"
        "CTsqVH9Q",
        "bcrypt_sha256$$2b$12$qMOya/ZcrGGV/yb2QlApW.WGR3.l7P2pFJa6tnzYNOAn4PL.x.Cme",
        // passlib's defaults.
        "$pbkdf2-sha256$29000$/18rRcj5v1fq/V8LgVDqfQ$mmrQLmQqxr8m3vNAMa34qnjVRbc/j.w3Jg4d.oPJBjs",
        "$scrypt$ln=16,r=8,p=1$oxTivHfufW/tvZcSIkRojQ$4AfKqzTy1i+nNm2uYz59ezMh2IoaL30oXyRxtqecsZk",
        "$6$rounds=656000$TdQXkS0LVT0ewGtk$VJpDcOwXmoK2p9gYPQeWj7K8PB."
        "iPLNj1R5ri3RYvpWpI9Xd4o71hpMXk76XUyhMlk2ImfqYZSyQPzfniFiPt1",
        "$5$rounds=535000$TdQXkS0LVT0ewGtk$nZnxQBEqRZoYDXTr4TrIR6fhsWTSCywu1zUwb.HCRg9",
        // Keycloak: PBKDF2-SHA512 210,000 (as authctl stores it), argon2 7 MiB t=5.
        "$pbkdf2-sha512$210000$OGeMMUbofY.Rsrb2Pud8Lw$4Nl360l5D08o5SwxsX3ubL4041kLD1bdotDKJNb/"
        "9Ue2QDQHoJVaIcdOBa5q7ajZ1sCXqqgP/lI.8.eYxbt/QQ",
        "$argon2id$v=19$m=7168,t=5,p=1$MOZci/F+r1VKKWXsPUcoZQ$s8rC2MdYvhxijoCS4o48JA",
        // PHP password_hash (bcrypt 10; 12 since PHP 8.4); Debian's yescrypt and openssl's sha512.
        "$2y$12$ED/qXO2k7s1sr7B3iFk4HeLjNIwyr4JhvqvUy9EkONVCK.981lEU.",
        "$y$j9T$3SlP1fm0iA7d3r6KpULmv.$DrZAyPLCezpOYrrvvZP4ibUU9.ZAQK6xxi1wuRJ8Gy.",
        "$7$CU..../....539MPWds4goS9XpM.wDx4.$NiqPZtwubAcEOLSnQAzEShWiwr5Rc9bEXT/trh9IQ54",
    };
    for (const char* h : defaults) {
        SCOPED_TRACE(h);
        EXPECT_EQ(import_problem(h, import_limits{}), "");
    }
}

TEST(ForeignHash, CostsBeyondTheBoundsAreRefusedUnlessRaised) {
    const char* costly[] = {
        "$2y$16$ED/qXO2k7s1sr7B3iFk4HeLjNIwyr4JhvqvUy9EkONVCK.981lEU.",
        "$pbkdf2-sha256$100000000$sBZCCGFsTem99x7DWKsVYg$GRF5v4qr11.yHoUUDMgSydAOo74Ks//"
        "qGNNRWT.yYU0",
        "$scrypt$ln=24,r=8,p=1$oxTivHfufW/tvZcSIkRojQ$4AfKqzTy1i+nNm2uYz59ezMh2IoaL30oXyRxtqecsZk",
        "$argon2id$v=19$m=4194304,t=1,p=1$MOZci/F+r1VKKWXsPUcoZQ$s8rC2MdYvhxijoCS4o48JA",
        "$y$jFT$ZIYM.hPcerhmne0YQNPX5/$V6QVyPdFl25P8IP5PUOkC0AvmkLvCYu2mueLbWMTi04",
        "$6$rounds=999999999$TdQXkS0LVT0ewGtk$VJpDcOwXmoK2p9gYPQeWj7K8PB."
        "iPLNj1R5ri3RYvpWpI9Xd4o71hpMXk76XUyhMlk2ImfqYZSyQPzfniFiPt1",
        // An outside audit's: 1,000 ms by the estimate of an 8-byte password, 3,045 ms per wrong
        // login with a 511-byte one.
        "$5$rounds=1250000$TdQXkS0LVT0ewGtk$9GWMBjJs3cq/5nV0t.7KDx0qtoODappTP1nhXBDdBj3",
    };
    import_limits raised;
    raised.max_milliseconds = 1e7;
    raised.max_memory_bytes = std::uint64_t{32} << 30;
    for (const char* h : costly) {
        SCOPED_TRACE(h);
        const auto problem = import_problem(h, import_limits{});
        EXPECT_NE(problem.find("--max-hash-"), std::string::npos) << problem;
        EXPECT_EQ(import_problem(h, raised), "");
    }
}

// PBKDF2 runs its iterations once per digest-sized block of the key it derives: the estimate is
// the rounds' cost times those blocks (an outside audit's 128-byte PBKDF2-SHA1 value at 1,400,000
// rounds was estimated at 980 ms and took 1,806 ms).
TEST(ForeignHash, PbkdfTwosEstimateCountsTheBlocksOfItsKey) {
    const auto cost = [](const std::string& h) {
        std::string problem;
        const auto parsed = parse_hash(h, problem);
        EXPECT_TRUE(parsed) << h << ": " << problem;
        return parsed ? parsed->cost.milliseconds : 0.0;
    };
    // Standard base64 with its padding, as Django writes it.
    const auto padded = [](std::size_t n) {
        const char* tail[] = {"", "AA==", "AAA="};
        return std::string(n / 3 * 4, 'A') + tail[n % 3];
    };
    struct row {
        std::string passlib;
        std::string django;  // empty: Django has no such format
        std::size_t digest;
    };
    const row rows[] = {
        {"$pbkdf2$100000$sBZCCGFsTem99x7DWKsVYg$", "pbkdf2_sha1$100000$salt$", 20},
        {"$pbkdf2-sha256$100000$sBZCCGFsTem99x7DWKsVYg$", "pbkdf2_sha256$100000$salt$", 32},
        {"$pbkdf2-sha512$100000$sBZCCGFsTem99x7DWKsVYg$", "", 64}};
    for (const auto& r : rows) {
        SCOPED_TRACE(r.passlib);
        const double one = cost(r.passlib + b64(r.digest));
        EXPECT_GT(one, 0);
        EXPECT_DOUBLE_EQ(cost(r.passlib + b64(16)), one);
        EXPECT_DOUBLE_EQ(cost(r.passlib + b64(r.digest + 1)), 2 * one);
        EXPECT_DOUBLE_EQ(cost(r.passlib + b64(2 * r.digest)), 2 * one);
        EXPECT_DOUBLE_EQ(cost(r.passlib + b64(128)),
                         static_cast<double>((128 + r.digest - 1) / r.digest) * one);
        if (!r.django.empty()) {
            EXPECT_DOUBLE_EQ(cost(r.django + padded(r.digest)), one);
            EXPECT_DOUBLE_EQ(cost(r.django + padded(r.digest + 1)), 2 * one);
            EXPECT_DOUBLE_EQ(cost(r.django + padded(128)),
                             static_cast<double>((128 + r.digest - 1) / r.digest) * one);
        }
    }
    const auto audit = "$pbkdf2$1400000$sBZCCGFsTem99x7DWKsVYg$" + b64(128);
    EXPECT_NE(import_problem(audit, import_limits{}).find("--max-hash-ms"), std::string::npos);
    EXPECT_EQ(import_problem("$pbkdf2$1400000$sBZCCGFsTem99x7DWKsVYg$" + b64(20), import_limits{}),
              "");
}

// sha-crypt hashes the password in each round, so a long one multiplies the cost: a password is
// verified up to sha_crypt_max_password_bytes, and a longer one never matches, not even the one
// the hash was made of (made here by libxcrypt, which mkpasswd and openssl passwd use).
TEST(ForeignHash, ShaCryptVerifiesPasswordsUpToItsBoundOnly) {
    for (const char* setting :
         {"$5$rounds=1000$TdQXkS0LVT0ewGtk", "$6$rounds=1000$TdQXkS0LVT0ewGtk"}) {
        for (const std::size_t n : {std::size_t{9}, sha_crypt_max_password_bytes,
                                    sha_crypt_max_password_bytes + 1, std::size_t{511}}) {
            SCOPED_TRACE(std::string(setting) + ", " + std::to_string(n) + " bytes");
            std::string pw;
            for (std::size_t i = 0; i < n; ++i) {
                pw.push_back(static_cast<char>('a' + i % 26));
            }
            auto data = std::make_unique<crypt_data>();
            const char* made = crypt_rn(pw.c_str(), setting, data.get(), sizeof *data);
            ASSERT_NE(made, nullptr);
            const std::string hash(made);
            ASSERT_EQ(hash.rfind(setting, 0), 0U) << hash;
            EXPECT_EQ(verify_any_hash(hash, pw), n <= sha_crypt_max_password_bytes);
            EXPECT_FALSE(verify_any_hash(hash, pw.substr(0, n - 1)));
        }
    }
}

// The default memory bound is 128 MiB exactly: an argon2 hash of 131,072 KiB imports, one of
// 131,073 KiB does not.
TEST(ForeignHash, TheMemoryBoundIs128MibExactly) {
    const std::string tail = "$MOZci/F+r1VKKWXsPUcoZQ$s8rC2MdYvhxijoCS4o48JA";
    EXPECT_EQ(import_problem("$argon2id$v=19$m=131072,t=1,p=1" + tail, import_limits{}), "");
    EXPECT_NE(import_problem("$argon2id$v=19$m=131073,t=1,p=1" + tail, import_limits{})
                  .find("--max-hash-memory"),
              std::string::npos);
}

TEST(ForeignHash, WeakFormatsNeedAnExplicitAllowance) {
    const char* md5 = "$1$kDBWicZV$do73DALz2rx.TwoOYAN8u.";
    const char* few_rounds =
        "$pbkdf2-sha256$999$sBZCCGFsTem99x7DWKsVYg$GRF5v4qr11.yHoUUDMgSydAOo74Ks//qGNNRWT.yYU0";
    import_limits allowed;
    allowed.allow_weak = true;
    const char* apr1 = "$apr1$8hhCPFC1$oNPuR6gHaG7sucTDURAEz0";
    for (const char* h : {md5, few_rounds, apr1}) {
        EXPECT_NE(import_problem(h, import_limits{}).find("weak"), std::string::npos);
        EXPECT_EQ(import_problem(h, allowed), "");
    }
}

TEST(ForeignHash, ProblemsNeverQuoteTheHash) {
    const std::string h = "$2y$16$ED/qXO2k7s1sr7B3iFk4HeLjNIwyr4JhvqvUy9EkONVCK.981lEU.";
    EXPECT_EQ(import_problem(h, import_limits{}).find("ED/qX"), std::string::npos);
}

}  // namespace
}  // namespace authd
