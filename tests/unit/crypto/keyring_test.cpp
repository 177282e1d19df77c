#include "authd/crypto/keyring.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <memory>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "authd/crypto/jwt.hpp"
#include "authd/crypto/key_file_edit.hpp"
#include "authd/crypto/keyring_holder.hpp"
#include "authd/crypto/secret.hpp"

namespace authd {
namespace {

constexpr std::int64_t now = 1'700'000'000;
constexpr std::int64_t later = 2'000'000'000;

// A fresh directory per test, removed with its files afterwards.
class KeyringTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string pattern = ::testing::TempDir() + "authd-keyring-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
        path_ = dir_ + "/key";
    }
    void TearDown() override {
        for (const auto& name : files()) {
            ::unlink((dir_ + "/" + name).c_str());
        }
        ::rmdir(dir_.c_str());
    }

    std::vector<std::string> files() const {
        std::vector<std::string> names;
        DIR* d = ::opendir(dir_.c_str());
        while (const dirent* e = d != nullptr ? ::readdir(d) : nullptr) {
            const std::string name = e->d_name;
            if (name != "." && name != "..") {
                names.push_back(name);
            }
        }
        if (d != nullptr) {
            ::closedir(d);
        }
        return names;
    }

    void write(const std::string& content, mode_t mode = 0600, const std::string& name = "key") {
        const std::string file = dir_ + "/" + name;
        ::unlink(file.c_str());
        std::ofstream(file, std::ios::binary) << content;
        ASSERT_EQ(::chmod(file.c_str(), mode), 0);
    }

    // A ring of each kind: two HS256 keys with kids, an EdDSA key, and the raw HS256 key (no kid).
    std::vector<std::shared_ptr<const keyring>> rings_of_each_kind();

    std::string read() const {
        std::ifstream in(path_, std::ios::binary);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }

    std::string dir_;
    std::string path_;
};

std::string b64(std::string_view bytes) {
    std::string out;
    base64url_append(out, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    return out;
}

std::string header_of(const std::string& token) {
    return base64url_decode(token.substr(0, token.find('.'))).value_or("(not base64url)");
}

std::string payload_b64(std::int64_t exp, std::string_view user = "alice") {
    std::string out;
    append_signing_input(out, "", user, exp);
    return out.substr(1);  // without the leading '.'
}

// An HS256 token with any header, MACed with any key of at least 32 bytes (forgeries).
std::string hs256_token(const std::string& header_json, std::string_view key,
                        std::int64_t exp = later) {
    const hs256_key mac_with(
        secret_bytes(reinterpret_cast<const unsigned char*>(key.data()), key.size()));
    std::string token;
    mac_with.sign_into(token, b64(header_json), "alice", exp, std::nullopt);
    return token;
}

token_error refusal(const keyring& ring, const std::string& token) {
    token_error err = token_error::none;
    EXPECT_FALSE(ring.verify(token, now, &err).has_value());
    return err;
}

const std::string raw_key(32, 'r');

// --- raw key files
// --------------------------------------------------------------------------------

TEST_F(KeyringTest, RawFileIsOneKeyWithTheSeedHeader) {
    write(raw_key);
    const auto ring = keyring::load(path_);
    ASSERT_EQ(ring->size(), 1U);
    EXPECT_EQ(ring->keys()[0].kid, "");
    EXPECT_TRUE(ring->keys()[0].signs);
    const auto token = ring->sign("alice", later);
    EXPECT_EQ(header_of(token), R"({"typ":"JWT","alg":"HS256"})");
    // What authd signed before key rings (same header, same key): each verifies the other's tokens
    // (tokens differ byte for byte only by their random jti).
    const hs256_key old_signer(read_private_file(path_, 4096));
    EXPECT_TRUE(old_signer.verify(token, now).has_value());
    EXPECT_TRUE(ring->verify(old_signer.sign("alice", later), now).has_value());
    const auto claims = ring->verify(token, now);
    ASSERT_TRUE(claims.has_value());
    EXPECT_EQ(claims->user, "alice");
    EXPECT_EQ(claims->exp, later);
    EXPECT_EQ(ring->jwks(), R"({"keys":[]})");
}

// A read that fails is an error (errno set), never tried again for ever: only an interrupted one
// is. (A directory's descriptor reads EISDIR; SIGALRM ends the test if the read loops.)
TEST(ReadSecretBytes, AFailedReadIsAnErrorNotARetry) {
    const int dir = ::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(dir, 0);
    ::alarm(10);
    secret_bytes out;
    errno = 0;
    EXPECT_FALSE(read_secret_bytes(dir, 64, out));
    EXPECT_EQ(errno, EISDIR);
    ::alarm(0);
    ::close(dir);
}

TEST_F(KeyringTest, FromSecretMatchesARawFile) {
    const auto ring = keyring::from_secret(
        secret_bytes(reinterpret_cast<const unsigned char*>(raw_key.data()), raw_key.size()));
    write(raw_key);
    EXPECT_TRUE(keyring::load(path_)->verify(ring->sign("bob", later), now).has_value());
    EXPECT_TRUE(ring->verify(keyring::load(path_)->sign("bob", later), now).has_value());
    EXPECT_EQ(ring->jwks(), R"({"keys":[]})") << "the same empty set as the file's ring";
    EXPECT_THROW(keyring::from_secret(secret_bytes(31)), std::invalid_argument);
}

TEST_F(KeyringTest, RefusesWhatTheSignerRefuses) {
    write(raw_key);
    const auto ring = keyring::load(path_);
    const auto good = ring->sign("alice", later);
    const auto dot2 = good.rfind('.');
    EXPECT_EQ(refusal(*ring, ring->sign("alice", now - token_clock_leeway_seconds)),
              token_error::expired);
    EXPECT_EQ(refusal(*ring, good.substr(0, dot2) + ".AAAA"), token_error::malformed);
    EXPECT_EQ(refusal(*ring, good + ".x"), token_error::malformed);
    EXPECT_EQ(refusal(*ring, good + std::string(hs256_key::max_token_bytes, 'A')),
              token_error::malformed);
    // Base64url is strict: a last character with non-zero padding bits is not the same signature.
    std::string sloppy = good;
    sloppy.back() = sloppy.back() == 'A' ? 'B' : static_cast<char>(sloppy.back() + 1);
    EXPECT_FALSE(ring->verify(sloppy, now).has_value());
    EXPECT_EQ(refusal(*ring, hs256_token(R"({"typ":"JWT","alg":"none"})", raw_key)),
              token_error::bad_algorithm);
    EXPECT_EQ(refusal(*ring, hs256_token(R"({"typ":"JWT","alg":"HS256"})", std::string(32, 'x'))),
              token_error::bad_signature);
}

std::vector<std::shared_ptr<const keyring>> KeyringTest::rings_of_each_kind() {
    write("authd-keyring 1\nold HS256 " + b64(std::string(32, 'h')) + "\nnew HS256 " +
              b64(std::string(32, 'n')) + "\n",
          0600, "hs-ring");
    create_key_file(path_, key_algorithm::eddsa);
    return {keyring::load(dir_ + "/hs-ring"), keyring::load(path_),
            keyring::from_secret(secret_bytes(
                reinterpret_cast<const unsigned char*>(raw_key.data()), raw_key.size()))};
}

// nbf and iat (RFC 7519 sections 4.1.5, 4.1.6) with the leeway, whatever the key: a raw HS256 key
// (no kid), an HS256 key with kid, an EdDSA key.
TEST_F(KeyringTest, RefusesTokensNotYetValidWithEveryKind) {
    const auto rings = rings_of_each_kind();
    const auto& raw_ring = rings.back();
    for (const auto& ring : rings) {
        SCOPED_TRACE(header_of(ring->sign("alice", later)));
        const auto soon = ring->sign("alice", later, now + token_clock_leeway_seconds);
        const auto claims = ring->verify(soon, now);
        ASSERT_TRUE(claims.has_value());
        EXPECT_EQ(claims->iat, now + token_clock_leeway_seconds);
        EXPECT_TRUE(ring->verify(ring->sign("alice", later, now - 60), now).has_value());
        EXPECT_EQ(refusal(*ring, ring->sign("alice", later, now + token_clock_leeway_seconds + 1)),
                  token_error::not_yet_valid);
    }
    // nbf, in a token MACed by hand with the raw key (authd issues none).
    const hs256_key mac_with(
        secret_bytes(reinterpret_cast<const unsigned char*>(raw_key.data()), raw_key.size()));
    const auto with_payload = [&](const std::string& json) {
        std::string token = std::string(jwt_header_b64) + "." + b64(json);
        unsigned char mac[32];
        mac_with.mac(token, mac);
        token += ".";
        base64url_append(token, mac, sizeof mac);
        return token;
    };
    const auto claims_with = [&](std::string_view extra) {
        return R"({"user":"alice","exp":)" + std::to_string(later) + std::string(extra) + "}";
    };
    EXPECT_TRUE(
        raw_ring->verify(with_payload(claims_with(R"(,"nbf":)" + std::to_string(now - 5))), now)
            .has_value());
    EXPECT_EQ(refusal(*raw_ring, with_payload(claims_with(R"(,"nbf":)" + std::to_string(now + 5)))),
              token_error::not_yet_valid);
    EXPECT_EQ(refusal(*raw_ring, with_payload(claims_with(R"(,"nbf":"soon")"))),
              token_error::malformed);
}

// sign_into() writes the token over what the string held (a connection's reused buffer), with every
// kind of key: nothing of it is left before the token.
TEST_F(KeyringTest, SignIntoReplacesWhatTheStringHeld) {
    for (const auto& ring : rings_of_each_kind()) {
        std::string out = "left over from before.";
        ring->sign_into(out, "alice", later, now);
        SCOPED_TRACE(out);
        EXPECT_EQ(out.find("left over"), std::string::npos);
        EXPECT_EQ(header_of(out), header_of(ring->sign("alice", later, now)));
        EXPECT_TRUE(ring->verify(out, now).has_value());
    }
}

// --- rotation and removal
// -------------------------------------------------------------------------

TEST_F(KeyringTest, RotationKeepsOldTokensAndSignsWithTheNewKeyAndKid) {
    write(raw_key);
    const auto before = keyring::load(path_);
    const auto old_token = before->sign("alice", later);

    const auto kid = rotate_key_file(path_, key_algorithm::hs256);
    EXPECT_EQ(read().rfind("authd-keyring 1\n", 0), 0U);
    const auto after = keyring::load(path_);
    ASSERT_EQ(after->size(), 2U);
    const auto keys = after->keys();
    EXPECT_FALSE(keys[0].kid.empty());
    EXPECT_FALSE(keys[0].signs);
    EXPECT_EQ(keys[1].kid, kid);
    EXPECT_TRUE(keys[1].signs);

    const auto new_token = after->sign("alice", later);
    EXPECT_EQ(header_of(new_token), R"({"typ":"JWT","alg":"HS256","kid":")" + kid + R"("})");
    EXPECT_TRUE(after->verify(old_token, now).has_value());
    EXPECT_TRUE(after->verify(new_token, now).has_value());
    // The old ring (an authd not reloaded yet) does not know the new key.
    EXPECT_EQ(refusal(*before, new_token), token_error::unknown_key);
}

TEST_F(KeyringTest, RemovingAKeyRefusesItsTokens) {
    write(raw_key);
    const auto old_token = keyring::load(path_)->sign("alice", later);
    rotate_key_file(path_, key_algorithm::hs256);
    const auto two = keyring::load(path_);
    const auto old_kid = two->keys()[0].kid;
    // A token of the old key that names its kid (signed while the ring had two keys).
    const auto old_with_kid =
        hs256_token(R"({"typ":"JWT","alg":"HS256","kid":")" + old_kid + R"("})", raw_key);
    ASSERT_TRUE(two->verify(old_with_kid, now).has_value());
    const auto new_token = two->sign("alice", later);

    remove_key(path_, old_kid);
    const auto one = keyring::load(path_);
    ASSERT_EQ(one->size(), 1U);
    EXPECT_EQ(refusal(*one, old_token), token_error::bad_signature);
    EXPECT_EQ(refusal(*one, old_with_kid), token_error::unknown_key);
    EXPECT_TRUE(one->verify(new_token, now).has_value());
    // One HS256 key again: the seed's header, and that key's kid-bearing tokens still verify.
    const auto kidless = one->sign("alice", later);
    EXPECT_EQ(header_of(kidless), R"({"typ":"JWT","alg":"HS256"})");
    EXPECT_TRUE(one->verify(kidless, now).has_value());
}

TEST_F(KeyringTest, RemoveRefusesTheSigningKeyAndUnknownIds) {
    write(raw_key);
    EXPECT_THROW(remove_key(path_, ""), std::runtime_error);  // a raw key has no id
    const auto kid = rotate_key_file(path_, key_algorithm::hs256);
    const auto content = read();
    try {
        remove_key(path_, kid);
        FAIL() << "removed the signing key";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("newest"), std::string::npos) << e.what();
    }
    EXPECT_THROW(remove_key(path_, "nope"), std::runtime_error);
    EXPECT_EQ(read(), content);
}

TEST_F(KeyringTest, KeyFilesAreWrittenAtomicallyWithMode0600) {
    write(raw_key);
    for (int i = 0; i < 3; ++i) {
        rotate_key_file(path_, i % 2 == 0 ? key_algorithm::eddsa : key_algorithm::hs256);
    }
    struct stat st {};
    ASSERT_EQ(::stat(path_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600U);
    EXPECT_EQ(files(), std::vector<std::string>{"key"});  // no temporary file left behind
    EXPECT_EQ(keyring::load(path_)->size(), 4U);
}

TEST_F(KeyringTest, RingsHoldAtMostSixteenKeys) {
    write(raw_key);
    for (std::size_t i = 1; i < max_ring_keys; ++i) {
        rotate_key_file(path_, key_algorithm::hs256);
    }
    EXPECT_EQ(keyring::load(path_)->size(), max_ring_keys);
    EXPECT_THROW(rotate_key_file(path_, key_algorithm::hs256), std::runtime_error);
}

TEST_F(KeyringTest, CreateNeverOverwrites) {
    const auto kid = create_key_file(path_, key_algorithm::eddsa);
    const auto content = read();
    EXPECT_EQ(content.rfind("authd-keyring 1\n" + kid + " EdDSA ", 0), 0U);
    EXPECT_THROW(create_key_file(path_, key_algorithm::eddsa), std::runtime_error);
    EXPECT_THROW(create_key_file(path_, key_algorithm::hs256), std::runtime_error);
    EXPECT_EQ(read(), content);
    EXPECT_EQ(files(), std::vector<std::string>{"key"});
    ::unlink(path_.c_str());
    EXPECT_EQ(create_key_file(path_, key_algorithm::hs256), "");
    EXPECT_EQ(read().size(), min_key_bytes);
}

// --- EdDSA
// ----------------------------------------------------------------------------------------

TEST_F(KeyringTest, EdDsaSignsAndVerifies) {
    const auto kid = create_key_file(path_, key_algorithm::eddsa);
    const auto ring = keyring::load(path_);
    const auto token = ring->sign("alice", later);
    // An EdDSA key always names its kid, even alone: a JWK Set verifier picks the key by it.
    EXPECT_EQ(header_of(token), R"({"typ":"JWT","alg":"EdDSA","kid":")" + kid + R"("})");
    const auto claims = ring->verify(token, now);
    ASSERT_TRUE(claims.has_value());
    EXPECT_EQ(claims->user, "alice");

    const auto dot1 = token.find('.');
    const auto dot2 = token.rfind('.');
    const auto tampered =
        token.substr(0, dot1 + 1) + payload_b64(later, "mallory") + token.substr(dot2);
    EXPECT_EQ(refusal(*ring, tampered), token_error::bad_signature);
    EXPECT_EQ(refusal(*ring, token.substr(0, dot2) + ".AAAA"), token_error::malformed);
    EXPECT_EQ(refusal(*ring, ring->sign("alice", now - token_clock_leeway_seconds)),
              token_error::expired);

    // Another Ed25519 key under the same kid.
    write("authd-keyring 1\n" + kid + " EdDSA " + b64(std::string(32, 'z')) + "\n", 0600, "other");
    const auto impostor = keyring::load(dir_ + "/other")->sign("alice", later);
    EXPECT_EQ(header_of(impostor), header_of(token));
    EXPECT_EQ(refusal(*ring, impostor), token_error::bad_signature);
}

// RFC 8037 appendix A.1/A.2: the public key of the example Ed25519 seed, as the JWK Set shows it.
TEST_F(KeyringTest, JwksHoldsTheEd25519PublicKeyOfRfc8037) {
    write("authd-keyring 1\nold HS256 " + b64(std::string(32, 'h')) +
          "\nrfc EdDSA nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\n");
    const auto ring = keyring::load(path_);
    EXPECT_EQ(
        ring->jwks(),
        R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",)"
        R"("kid":"rfc","alg":"EdDSA","use":"sig"}]})");
    EXPECT_EQ(ring->jwks().find(b64(std::string(32, 'h'))), std::string::npos);
}

TEST_F(KeyringTest, MixedRingVerifiesBothAlgorithms) {
    write(raw_key);
    const auto hs_token = keyring::load(path_)->sign("alice", later);
    rotate_key_file(path_, key_algorithm::eddsa);
    const auto ring = keyring::load(path_);
    const auto ed_token = ring->sign("alice", later);
    EXPECT_NE(header_of(ed_token).find(R"("alg":"EdDSA")"), std::string::npos);
    EXPECT_TRUE(ring->verify(hs_token, now).has_value());
    EXPECT_TRUE(ring->verify(ed_token, now).has_value());
}

// --- forgeries
// ------------------------------------------------------------------------------------

// The classic algorithm confusion: HS256 with the EdDSA key's public bytes (which the JWK Set
// publishes) as the HMAC key.
TEST_F(KeyringTest, AlgorithmConfusionIsRefused) {
    write("authd-keyring 1\ned EdDSA nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\n");
    const auto ring = keyring::load(path_);
    const auto public_key = base64url_decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
    ASSERT_TRUE(public_key.has_value());
    EXPECT_EQ(refusal(*ring, hs256_token(R"({"typ":"JWT","alg":"HS256","kid":"ed"})", *public_key)),
              token_error::bad_algorithm);
    EXPECT_EQ(refusal(*ring, hs256_token(R"({"typ":"JWT","alg":"HS256"})", *public_key)),
              token_error::bad_algorithm);
    EXPECT_EQ(refusal(*ring, b64(R"({"typ":"JWT","alg":"none","kid":"ed"})") + "." +
                                 payload_b64(later) + "."),
              token_error::bad_algorithm);
    // The right alg and kid, but a header authd never writes (another member order).
    const auto token = ring->sign("alice", later);
    const auto reordered =
        b64(R"({"alg":"EdDSA","kid":"ed","typ":"JWT"})") + token.substr(token.find('.'));
    EXPECT_EQ(refusal(*ring, reordered), token_error::bad_algorithm);
}

TEST_F(KeyringTest, WrongKidIsRefused) {
    write("authd-keyring 1\na HS256 " + b64(std::string(32, 'a')) + "\nb HS256 " +
          b64(std::string(32, 'b')) + "\n");
    const auto ring = keyring::load(path_);
    EXPECT_TRUE(ring->verify(
        hs256_token(R"({"typ":"JWT","alg":"HS256","kid":"a"})", std::string(32, 'a')), now));
    // a's MAC under b's kid; an unknown kid; a kid that is not a string.
    EXPECT_EQ(refusal(*ring, hs256_token(R"({"typ":"JWT","alg":"HS256","kid":"b"})",
                                         std::string(32, 'a'))),
              token_error::bad_signature);
    EXPECT_EQ(refusal(*ring, hs256_token(R"({"typ":"JWT","alg":"HS256","kid":"c"})",
                                         std::string(32, 'a'))),
              token_error::unknown_key);
    EXPECT_EQ(
        refusal(*ring, hs256_token(R"({"typ":"JWT","alg":"HS256","kid":1})", std::string(32, 'a'))),
        token_error::bad_algorithm);
    // A header that is JSON but not an object, or not JSON: malformed.
    for (const char* header : {"[]", "1", R"("x")", "null", "{", ""}) {
        SCOPED_TRACE(header);
        EXPECT_EQ(refusal(*ring, hs256_token(header, std::string(32, 'a'))),
                  token_error::malformed);
    }
    // Without kid, any HS256 key of the ring (the token may predate the rotation).
    EXPECT_TRUE(
        ring->verify(hs256_token(R"({"typ":"JWT","alg":"HS256"})", std::string(32, 'a')), now));
    EXPECT_TRUE(
        ring->verify(hs256_token(R"({"typ":"JWT","alg":"HS256"})", std::string(32, 'b')), now));
    EXPECT_EQ(refusal(*ring, hs256_token(R"({"typ":"JWT","alg":"HS256"})", std::string(32, 'c'))),
              token_error::bad_signature);
}

// --- bad files
// ------------------------------------------------------------------------------------

TEST_F(KeyringTest, BadLinesAreReportedByNumberWithoutTheSecret) {
    const std::string secret = b64("a secret no message may show!!!!");
    const std::string good = "k1 HS256 " + secret + "\n";
    struct bad_file {
        std::string content;
        std::string message;
    };
    std::vector<bad_file> rows = {
        {"authd-keyring 2\n" + good, "line 1: expected 'authd-keyring 1'"},
        {"authd-keyring 1\n", "holds no key"},
        {"authd-keyring 1\n" + good + "\n", "line 3: expected '<kid> <alg> <base64url secret>'"},
        {"authd-keyring 1\nk1 HS256\n", "line 2: expected"},
        {"authd-keyring 1\nk1  HS256 " + secret + "\n", "line 2: expected"},
        {"authd-keyring 1\nk1 HS256 " + secret + " extra\n", "line 2: expected"},
        {"authd-keyring 1\nk1 HS256 " + secret + "\r\n", "line 2: the secret is not base64url"},
        {"authd-keyring 1\nk.1 HS256 " + secret + "\n", "line 2: a key id is 1 to 64"},
        {"authd-keyring 1\n" + std::string(65, 'k') + " HS256 " + secret + "\n",
         "line 2: a key id"},
        {"authd-keyring 1\nk1 RS256 " + secret + "\n", "line 2: unknown algorithm"},
        {"authd-keyring 1\nk1 hs256 " + secret + "\n", "line 2: unknown algorithm"},
        {"authd-keyring 1\nk1 HS256 " + secret + "=\n", "line 2: the secret is not base64url"},
        {"authd-keyring 1\nk1 HS256 " + b64(std::string(31, 's')) + "\n",
         "line 2: an HS256 secret has 32 to 4096 bytes, this one 31"},
        {"authd-keyring 1\nk1 EdDSA " + secret + "AA\n", "line 2: the secret is not base64url"},
        {"authd-keyring 1\nk1 EdDSA " + b64(std::string(64, 's')) + "\n",
         "line 2: an EdDSA secret is a 32-byte Ed25519 seed, this one has 64 bytes"},
        {"authd-keyring 1\n" + good + "k2 HS256 " + secret + "\n" + good,
         "line 4: key id k1 repeats line 2"},
        {std::string(31, 'r'), "holds 31 bytes; a key needs at least 32"},
        {std::string(5000, 'r'), "is longer than 4096 bytes"},
    };
    std::string seventeen = "authd-keyring 1\n";
    for (int i = 0; i < 17; ++i) {
        // (Appended piece by piece: GCC 12 at -O2 gives a false -Wrestrict for "k" + to_string.)
        seventeen += 'k';
        seventeen += std::to_string(i);
        seventeen += " HS256 " + secret + "\n";
    }
    rows.push_back({seventeen, "line 18: more than 16 keys"});
    for (const auto& row : rows) {
        write(row.content);
        try {
            keyring::load(path_);
            ADD_FAILURE() << "accepted: " << row.message;
        } catch (const std::runtime_error& e) {
            const std::string what = e.what();
            EXPECT_EQ(what.rfind("key file " + path_ + ": ", 0), 0U) << what;
            EXPECT_NE(what.find(row.message), std::string::npos) << what;
            EXPECT_EQ(what.find(secret), std::string::npos) << what;
        }
    }
}

TEST_F(KeyringTest, PermissionsAreChecked) {
    const std::string ring = "authd-keyring 1\nk1 HS256 " + b64(std::string(32, 'k')) + "\n";
    struct row {
        mode_t mode;
        bool accepted;
    };
    for (const auto& [mode, accepted] :
         {row{0600, true}, row{0400, true}, row{0640, false}, row{0604, false}, row{0660, false}}) {
        write(ring, mode);
        if (accepted) {
            EXPECT_NO_THROW(keyring::load(path_)) << std::oct << mode;
        } else {
            EXPECT_THROW(keyring::load(path_), std::runtime_error) << std::oct << mode;
            EXPECT_THROW(rotate_key_file(path_, key_algorithm::hs256), std::runtime_error);
        }
    }
    write(ring);
    const auto link = dir_ + "/link";
    ASSERT_EQ(::symlink(path_.c_str(), link.c_str()), 0);
    try {
        keyring::load(link);
        ADD_FAILURE() << "followed a symbolic link";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("symbolic link"), std::string::npos) << e.what();
    }
    EXPECT_THROW(keyring::load(dir_), std::runtime_error);
    EXPECT_THROW(keyring::load(dir_ + "/missing"), std::runtime_error);
}

// --- reload
// ---------------------------------------------------------------------------------------

TEST(KeyringHolder, ReplaceIsSeenByOtherThreads) {
    const auto first = keyring::from_secret(
        secret_bytes(reinterpret_cast<const unsigned char*>(std::string(32, '1').data()), 32));
    const auto second = keyring::from_secret(
        secret_bytes(reinterpret_cast<const unsigned char*>(std::string(32, '2').data()), 32));
    const auto first_token = first->sign("alice", later);
    const auto second_token = second->sign("alice", later);
    keyring_holder holder(first);
    EXPECT_EQ(holder.current(), first);
    EXPECT_TRUE(holder.verify(first_token, now).has_value());

    std::atomic<bool> replaced{false};
    std::atomic<int> saw_second{0};
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (;;) {
                const bool after = replaced.load();
                const keyring& ring = holder.get();
                // Every token checks with the ring it was taken from, before and after.
                if (!ring.verify(ring.sign("bob", later), now)) {
                    ++failures;
                }
                if (ring.verify(second_token, now)) {
                    ++saw_second;
                    return;
                }
                if (after) {
                    ++failures;  // replace() happened before this get(): it must be seen
                    return;
                }
            }
        });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    holder.replace(second);
    replaced = true;
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(saw_second.load(), 4);
    EXPECT_EQ(holder.current(), second);
    EXPECT_TRUE(second->verify(holder.sign("alice", later), now).has_value());
    EXPECT_FALSE(holder.verify(first_token, now).has_value());
    EXPECT_THROW(holder.replace(nullptr), std::invalid_argument);
}

// --- an independent implementation
// ----------------------------------------------------------------

// tests/jwks_check.py (AUTHD_TESTS_DIR is the source directory tests/).
std::string jwks_check_script() {
    return std::string(AUTHD_TESTS_DIR) + "/jwks_check.py";
}

// $AUTHD_TEST_PYTHON, else Debian's /usr/bin/python3 (where python3-jwt installs), else python3.
std::string python() {
    if (const char* chosen = std::getenv("AUTHD_TEST_PYTHON")) {
        return chosen;
    }
    return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

std::string shell_quoted(const std::string& s) {
    std::string out = "'";
    for (const char c : s) {
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return out + "'";
}

// The exit status of jwks_check.py for this JWK Set and token.
int jwks_check(const std::string& jwks, const std::string& token) {
    const auto command = shell_quoted(python()) + " " + shell_quoted(jwks_check_script());
    FILE* pipe = ::popen(command.c_str(), "w");
    if (pipe == nullptr) {
        return -1;
    }
    const std::string input =
        R"({"jwks":)" + jwks + R"(,"token":")" + token + R"(","user":"alice"})";
    std::fwrite(input.data(), 1, input.size(), pipe);
    const int status = ::pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(KeyringTest, PyJwtVerifiesEdDsaTokensWithTheJwks) {
    write(raw_key);
    rotate_key_file(path_, key_algorithm::eddsa);
    rotate_key_file(path_, key_algorithm::eddsa);
    const auto ring = keyring::load(path_);
    const auto token = ring->sign("alice", later);
    ASSERT_EQ(jwks_check(ring->jwks(), token), 0)
        << "exit 2 means PyJWT or cryptography is missing: apt-get install python3-jwt "
           "python3-cryptography";

    // The check can fail: a tampered payload, an expired token, a key the set does not have.
    const auto dot1 = token.find('.');
    const auto dot2 = token.rfind('.');
    EXPECT_EQ(jwks_check(ring->jwks(), token.substr(0, dot1 + 1) + payload_b64(later, "mallory") +
                                           token.substr(dot2)),
              1);
    EXPECT_EQ(jwks_check(ring->jwks(), ring->sign("alice", 1000)), 1);
    const auto other_path = dir_ + "/other";
    create_key_file(other_path, key_algorithm::eddsa);
    EXPECT_EQ(jwks_check(ring->jwks(), keyring::load(other_path)->sign("alice", later)), 1);
}

}  // namespace
}  // namespace authd
