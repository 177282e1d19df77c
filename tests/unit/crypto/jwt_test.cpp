#include "authd/crypto/jwt.hpp"

#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <sodium.h>

namespace authd {
namespace {

secret_bytes key_of(const std::string& bytes) {
    return secret_bytes(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

secret_bytes test_key(char fill = 'k') {
    return key_of(std::string(32, fill));
}

std::string hex(const unsigned char* p, std::size_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        out += digits[p[i] >> 4];
        out += digits[p[i] & 0xf];
    }
    return out;
}

// RFC 4231 section 4.7, test case 6: a key longer than the block size (the only HMAC-SHA-256
// vector whose key meets authd's 32-byte minimum).
TEST(TokenSignerKnownAnswer, Rfc4231TestCase6) {
    const hs256_key signer(key_of(std::string(131, '\xaa')));
    unsigned char mac[32];
    signer.mac("Test Using Larger Than Block-Size Key - Hash Key First", mac);
    EXPECT_EQ(hex(mac, 32), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

// RFC 7515 appendix A.1: the HS256 JWS example, signing input and key from the RFC.
TEST(TokenSignerKnownAnswer, Rfc7515AppendixA1) {
    const auto key = base64url_decode(
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
    ASSERT_TRUE(key.has_value());
    const hs256_key signer(key_of(*key));
    unsigned char mac[32];
    signer.mac(
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0"
        "cnVlfQ",
        mac);
    std::string b64;
    base64url_append(b64, mac, sizeof mac);
    EXPECT_EQ(b64, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
}

// The seed's example token: the same header bytes, and the same claims in the same order for the
// same user and exp, then the token id /logout revokes (its key is unknown, so the signature
// differs).
TEST(TokenSignerKnownAnswer, SeedExampleHeaderAndPayload) {
    const hs256_key signer(test_key());
    const auto token = signer.sign("user_test", 1628605206, 1628603406);
    const std::string seed_header = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.";
    ASSERT_EQ(token.substr(0, seed_header.size()), seed_header);
    const auto dot2 = token.rfind('.');
    const auto payload =
        base64url_decode(token.substr(seed_header.size(), dot2 - seed_header.size()));
    ASSERT_TRUE(payload.has_value());
    const std::string seed_claims = R"({"user":"user_test","exp":1628605206)";
    EXPECT_EQ(payload->substr(0, seed_claims.size()), seed_claims);
    EXPECT_EQ(payload->substr(seed_claims.size(), 8), R"(,"jti":")");
    // The 22-character token id, then when it was issued.
    EXPECT_EQ(payload->substr(seed_claims.size() + 8 + 22), R"(","iat":1628603406})");
    EXPECT_EQ(token.size() - dot2 - 1, 43U);  // 32-byte MAC in unpadded base64url
}

TEST(TokenSigner, EveryTokenHasItsOwnId) {
    const hs256_key signer(test_key());
    const auto a = signer.verify(signer.sign("u", 2'000'000'000), 1'700'000'000);
    const auto b = signer.verify(signer.sign("u", 2'000'000'000), 1'700'000'000);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->jti.size(), 22U);  // 128 bits
    EXPECT_NE(a->jti, b->jti);
}

// An id is 8 random bytes, drawn once per thread, then a counter: every one of the 8 varies from
// thread to thread (16 threads: the chance that one byte is the same in all is 2^-120).
TEST(TokenSigner, EachThreadsIdsStartWithEightRandomBytes) {
    std::vector<std::string> ids(16);
    std::vector<std::thread> threads;
    for (auto& id : ids) {
        threads.emplace_back([&id] { id = new_token_id(); });
    }
    for (auto& t : threads) {
        t.join();
    }
    std::vector<std::vector<unsigned char>> decoded;
    for (const auto& id : ids) {
        ASSERT_EQ(id.size(), 22U);
        std::vector<unsigned char> bytes(16);
        std::size_t size = 0;
        ASSERT_EQ(sodium_base642bin(bytes.data(), bytes.size(), id.data(), id.size(), nullptr,
                                    &size, nullptr, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  0);
        ASSERT_EQ(size, 16U);
        decoded.push_back(bytes);
    }
    for (std::size_t i = 0; i < 8; ++i) {
        bool varies = false;
        for (const auto& bytes : decoded) {
            varies = varies || bytes[i] != decoded[0][i];
        }
        EXPECT_TRUE(varies) << "byte " << i << " is the same in every thread's id";
    }
}

TEST(TokenSigner, RoundTrip) {
    const hs256_key signer(test_key());
    const auto token = signer.sign("J\xc3\xa9r\xc3\xb4me \"q\"", 2'000'000'000);
    token_error err = token_error::malformed;
    const auto claims = signer.verify(token, 1'700'000'000, &err);
    ASSERT_TRUE(claims.has_value());
    EXPECT_EQ(err, token_error::none);
    EXPECT_EQ(claims->user, "J\xc3\xa9r\xc3\xb4me \"q\"");
    EXPECT_EQ(claims->exp, 2'000'000'000);
}

struct reject_row {
    std::string name;
    std::string token;
    token_error expected;
};

TEST(TokenSigner, RejectsWhatItMustReject) {
    const hs256_key signer(test_key());
    const hs256_key other(test_key('o'));
    const auto good = signer.sign("alice", 2'000'000'000);
    const auto dot2 = good.rfind('.');
    auto tampered = good;
    tampered[good.find('.') + 3] ^= 1;  // a payload byte
    const std::string none_header =
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0";  // {"typ":"JWT","alg":"none"}
    const reject_row rows[] = {
        {"expired", signer.sign("alice", 1'000), token_error::expired},
        {"expired a leeway ago", signer.sign("alice", 1'700'000'000 - token_clock_leeway_seconds),
         token_error::expired},
        {"other key", other.sign("alice", 2'000'000'000), token_error::bad_signature},
        {"tampered payload", tampered, token_error::bad_signature},
        {"alg none, no signature",
         none_header + good.substr(good.find('.'), dot2 - good.find('.')) + ".",
         token_error::bad_algorithm},
        {"header not JSON", "bm90IGpzb24" + good.substr(good.find('.')), token_error::malformed},
        {"bad base64 signature", good.substr(0, dot2) + ".!!!", token_error::malformed},
        {"short signature", good.substr(0, dot2) + ".AAAA", token_error::malformed},
        {"two parts", good.substr(0, dot2), token_error::malformed},
        {"four parts", good + ".x", token_error::malformed},
        {"empty", "", token_error::malformed},
        {"over-long", good + std::string(hs256_key::max_token_bytes, 'A'), token_error::malformed},
    };
    for (const auto& row : rows) {
        SCOPED_TRACE(row.name);
        token_error err = token_error::none;
        EXPECT_FALSE(signer.verify(row.token, 1'700'000'000, &err).has_value());
        EXPECT_EQ(err, row.expected);
    }
}

// split_token() is the first step of every verification (HS256 and the keyring's): exactly three
// parts, or nothing. (A fourth part once reached the signature's decoder, which happened to refuse
// its '.'.)
TEST(SplitToken, TakesExactlyThreePartsAtTheirDots) {
    const auto parts = split_token("aa.bbb.c");
    ASSERT_TRUE(parts);
    EXPECT_EQ(parts->header, "aa");
    EXPECT_EQ(parts->payload, "bbb");
    EXPECT_EQ(parts->signature, "c");
    EXPECT_EQ(parts->signing_input, "aa.bbb");
    EXPECT_EQ(parts->token, "aa.bbb.c");
    const auto empty = split_token("..");
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->signing_input, ".");
    for (const std::string_view bad : {"", "a", "a.b", "a.b.c.d", "a.b.c.", "...", "a..b.c"}) {
        EXPECT_FALSE(split_token(bad)) << bad;
    }
    EXPECT_TRUE(split_token(std::string(hs256_key::max_token_bytes - 2, 'a') + ".."));
    EXPECT_FALSE(split_token(std::string(hs256_key::max_token_bytes - 1, 'a') + ".."));
}

// A token with any payload, signed with signer's key and the seed's header.
std::string token_with_payload(const hs256_key& signer, std::string_view payload_json) {
    std::string token(jwt_header_b64);
    token += '.';
    base64url_append(token, reinterpret_cast<const unsigned char*>(payload_json.data()),
                     payload_json.size());
    unsigned char mac[32];
    signer.mac(token, mac);
    token += '.';
    base64url_append(token, mac, sizeof mac);
    return token;
}

// A verified token without a jti (the seed's format) or with an empty one gets an id derived from
// its bytes, for /logout: its own (another token, another id), never one authd issues.
TEST(TokenSigner, TokenWithoutIdGetsOneDerivedFromItsBytes) {
    const hs256_key signer(test_key());
    const auto make = [&](std::string_view payload) { return token_with_payload(signer, payload); };
    const auto seed = make(R"({"user":"user_test","exp":2000000000})");
    const auto empty = make(R"({"user":"user_test","exp":2000000000,"jti":""})");
    const auto other = make(R"({"user":"user_test","exp":2000000001})");
    const auto a = signer.verify(seed, 1'700'000'000);
    const auto b = signer.verify(empty, 1'700'000'000);
    const auto c = signer.verify(other, 1'700'000'000);
    ASSERT_TRUE(a && b && c);
    EXPECT_EQ(a->jti, derived_token_id(seed));
    EXPECT_EQ(b->jti, derived_token_id(empty));
    EXPECT_EQ(a->jti.substr(0, 7), "sha256:");
    EXPECT_EQ(a->jti.size(), 50U);
    EXPECT_NE(a->jti, b->jti);
    EXPECT_NE(a->jti, c->jti);
    // SHA-256 of "abc" (FIPS 180-2 appendix B.1), base64url.
    EXPECT_EQ(derived_token_id("abc"), "sha256:ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    // A token that carries its own id keeps it.
    const auto own = make(R"({"user":"user_test","exp":2000000000,"jti":"abc"})");
    EXPECT_EQ(signer.verify(own, 1'700'000'000)->jti, "abc");
    // Up to 64 characters (a revocation's key, stored and sent to every node); a longer one, or
    // one that is not a string, makes the token malformed.
    const std::string longest(64, 'j');
    const auto at_bound = make(R"({"user":"user_test","exp":2000000000,"jti":")" + longest + "\"}");
    EXPECT_EQ(signer.verify(at_bound, 1'700'000'000)->jti, longest);
    for (const std::string& jti :
         {"\"" + longest + "j\"", std::string("42"), std::string("null")}) {
        SCOPED_TRACE(jti);
        token_error err = token_error::none;
        EXPECT_FALSE(
            signer.verify(make(R"({"user":"user_test","exp":2000000000,"jti":)" + jti + "}"),
                          1'700'000'000, &err));
        EXPECT_EQ(err, token_error::malformed);
    }
}

// A signed token whose claims are not the two authd needs, each of the right type, is malformed:
// no user, a user that is not a string, no exp, an exp that is not an integer.
TEST(TokenSigner, ClaimsWithoutAStringUserAndAnIntegerExpAreMalformed) {
    const hs256_key signer(test_key());
    for (const std::string payload :
         {R"({"exp":2000000000})", R"({"user":42,"exp":2000000000})",
          R"({"user":null,"exp":2000000000})", R"({"user":"alice"})",
          R"({"user":"alice","exp":"2000000000"})", R"({"user":"alice","exp":2000000000.5})",
          R"({"user":["alice"],"exp":2000000000})", R"({"user":"alice","exp":null})"}) {
        SCOPED_TRACE(payload);
        token_error err = token_error::none;
        EXPECT_FALSE(
            signer.verify(token_with_payload(signer, payload), 1'700'000'000, &err).has_value());
        EXPECT_EQ(err, token_error::malformed);
    }
    EXPECT_TRUE(signer.verify(token_with_payload(signer, R"({"user":"alice","exp":2000000000})"),
                              1'700'000'000));
}

struct times_row {
    std::string name;
    std::string times;  // what follows {"user":"alice" in the payload
    token_error expected;
};

// RFC 7519 sections 4.1.4-4.1.6: exp, nbf and iat, each with the same leeway.
TEST(TokenSigner, HonoursExpNbfAndIatWithOneLeeway) {
    const hs256_key signer(test_key());
    constexpr std::int64_t now = 1'700'000'000;
    constexpr std::int64_t leeway = token_clock_leeway_seconds;
    const auto at = [](std::int64_t t) { return std::to_string(t); };
    const std::string exp = R"(,"exp":)" + at(now + 600);
    const times_row rows[] = {
        {"nbf in the past", exp + R"(,"nbf":)" + at(now - 600), token_error::none},
        {"nbf now + leeway", exp + R"(,"nbf":)" + at(now + leeway), token_error::none},
        {"nbf beyond the leeway", exp + R"(,"nbf":)" + at(now + leeway + 1),
         token_error::not_yet_valid},
        {"nbf far ahead", exp + R"(,"nbf":)" + at(now + 3600), token_error::not_yet_valid},
        {"iat in the past", exp + R"(,"iat":)" + at(now - 600), token_error::none},
        {"iat now + leeway", exp + R"(,"iat":)" + at(now + leeway), token_error::none},
        {"iat beyond the leeway", exp + R"(,"iat":)" + at(now + leeway + 1),
         token_error::not_yet_valid},
        {"iat far ahead", exp + R"(,"iat":)" + at(now + 3600), token_error::not_yet_valid},
        {"both in the past", exp + R"(,"nbf":)" + at(now - 1) + R"(,"iat":)" + at(now - 1),
         token_error::none},
        {"exp now: within the leeway", R"(,"exp":)" + at(now), token_error::none},
        {"exp a leeway ago", R"(,"exp":)" + at(now - leeway), token_error::expired},
        {"extreme nbf", exp + R"(,"nbf":9223372036854775807)", token_error::not_yet_valid},
        {"extreme exp", R"(,"exp":9223372036854775807)", token_error::none},
        {"very old exp", R"(,"exp":-9223372036854775808)", token_error::expired},
        // A NumericDate is a number: anything else is a malformed token, not an unchecked one.
        {"nbf a string", exp + R"(,"nbf":"0")", token_error::malformed},
        {"iat a string", exp + R"(,"iat":"0")", token_error::malformed},
        {"iat null", exp + R"(,"iat":null)", token_error::malformed},
        {"nbf true", exp + R"(,"nbf":true)", token_error::malformed},
        {"iat an object", exp + R"(,"iat":{})", token_error::malformed},
        {"nbf beyond int64", exp + R"(,"nbf":9223372036854775808)", token_error::malformed},
    };
    for (const auto& row : rows) {
        SCOPED_TRACE(row.name);
        const auto token = token_with_payload(signer, R"({"user":"alice")" + row.times + "}");
        token_error err = token_error::bad_signature;
        const auto claims = signer.verify(token, now, &err);
        EXPECT_EQ(err, row.expected);
        EXPECT_EQ(claims.has_value(), row.expected == token_error::none);
    }
}

TEST(TokenSigner, IssuedAtRoundTrips) {
    const hs256_key signer(test_key());
    const auto with = signer.verify(signer.sign("u", 2'000'000'000, 1'699'999'999), 1'700'000'000);
    ASSERT_TRUE(with.has_value());
    EXPECT_EQ(with->iat, 1'699'999'999);
    EXPECT_FALSE(with->nbf.has_value());
    const auto without = signer.verify(signer.sign("u", 2'000'000'000), 1'700'000'000);
    ASSERT_TRUE(without.has_value());
    EXPECT_FALSE(without->iat.has_value());
}

TEST(TokenSigner, RefusesShortKeys) {
    EXPECT_THROW(hs256_key(key_of(std::string(31, 'k'))), std::invalid_argument);
}

TEST(TokenSigner, ThreadsAndSignersDoNotShareKeyedContexts) {
    // Each thread keeps a keyed context per signer: alternating two signers on several threads
    // must still give each signer's own MAC.
    const hs256_key a(test_key('a'));
    const hs256_key b(test_key('b'));
    // A fixed signing input, so that the MACs themselves can be compared (tokens carry a jti).
    const std::string input = "header.payload";
    unsigned char expected_a[32];
    unsigned char expected_b[32];
    a.mac(input, expected_a);
    b.mac(input, expected_b);
    ASSERT_NE(std::memcmp(expected_a, expected_b, 32), 0);
    std::vector<std::thread> threads;
    std::atomic<int> mismatches{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 500; ++i) {
                unsigned char got_a[32];
                unsigned char got_b[32];
                a.mac(input, got_a);
                b.mac(input, got_b);
                if (std::memcmp(got_a, expected_a, 32) != 0 ||
                    std::memcmp(got_b, expected_b, 32) != 0) {
                    ++mismatches;
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(mismatches.load(), 0);
}

TEST(Base64url, FastEncoderMatchesTheConstantTimeOneAtEveryLength) {
    std::string bytes;
    for (int n = 0; n < 100; ++n) {
        std::string fast;
        std::string secret;
        base64url_append(fast, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
        base64url_append_secret(secret, reinterpret_cast<const unsigned char*>(bytes.data()),
                                bytes.size());
        ASSERT_EQ(fast, secret) << n;
        EXPECT_EQ(base64url_decode(fast).value_or("?"), bytes);
        bytes += static_cast<char>(n * 37 + 11);  // every byte value's bits get exercised
    }
}

TEST(TokenSigner, SignatureMustBeTheCanonicalEncoding) {
    const hs256_key signer(test_key());
    const auto good = signer.sign("alice", 2'000'000'000);
    auto last = good;
    // The 43rd character of a 32-byte MAC carries 4 bits: flipping a low bit gives another text
    // that decodes to the same MAC under lax decoders. It must not verify.
    last.back() = static_cast<char>(last.back() ^ 1);
    token_error err = token_error::none;
    EXPECT_FALSE(signer.verify(last, 1'700'000'000, &err).has_value());
    EXPECT_EQ(err, token_error::bad_signature);
    auto foreign = good;
    foreign[foreign.size() - 10] = '+';  // not in the URL-safe alphabet
    EXPECT_FALSE(signer.verify(foreign, 1'700'000'000).has_value());
}

TEST(Base64url, DecodeRejectsPaddingAndForeignAlphabet) {
    EXPECT_EQ(base64url_decode("aGk").value_or("?"), "hi");
    EXPECT_FALSE(base64url_decode("aGk=").has_value());
    EXPECT_FALSE(base64url_decode("a+/k").has_value());
    for (const auto* bad : {"a", "aGk ", " aGk", "aG k", "aGk\n", "aGl", "aGm",
                            "Zm9=", "Zm9vYm=", "Zm9vYmF", "!!!!", "aGk."}) {
        EXPECT_FALSE(base64url_decode(bad).has_value()) << bad;
    }
}

TEST(Base64url, DecodeKnownVectors) {
    // RFC 4648 section 10, without padding; and the two characters of the URL-safe alphabet.
    const std::pair<std::string_view, std::string_view> vectors[] = {
        {"", ""},           {"Zg", "f"},          {"Zm8", "fo"},          {"Zm9v", "foo"},
        {"Zm9vYg", "foob"}, {"Zm9vYmE", "fooba"}, {"Zm9vYmFy", "foobar"}, {"-_8", "\xfb\xff"},
    };
    for (const auto& [text, bytes] : vectors) {
        EXPECT_EQ(base64url_decode(text).value_or("?"), bytes) << text;
    }
}

TEST(Base64url, DecodeAgreesWithLibsodiumOnEveryTwoCharacterEnding) {
    // Every text "AAAA" + two or three characters: libsodium's constant-time decoder is the
    // reference for what is accepted and what it decodes to.
    const std::string alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=. ";
    const auto reference = [](const std::string& text) -> std::optional<std::string> {
        std::string out(text.size(), '\0');
        std::size_t len = 0;
        const char* end = nullptr;
        if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                              text.size(), nullptr, &len, &end,
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
            end != text.data() + text.size()) {
            return std::nullopt;
        }
        out.resize(len);
        return out;
    };
    for (const char a : alphabet) {
        for (const char b : alphabet) {
            for (const std::string& tail :
                 {std::string{a, b}, std::string{a, b, 'Q'}, std::string{'Q', a, b}}) {
                const auto text = "AAAA" + tail;
                EXPECT_EQ(base64url_decode(text), reference(text)) << text;
            }
        }
    }
}

}  // namespace
}  // namespace authd
