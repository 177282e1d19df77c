// Key rotation on SIGHUP and EdDSA tokens served with their JWKS, against the real authd.
#include <csignal>
#include <cstdio>
#include <sys/stat.h>

#include "harness.hpp"

namespace authd_it {
namespace {

class KeysTest : public authd_test {
  protected:
    std::string login() {
        http_client c(port());
        const auto r = c.roundtrip(login_request("user_test", "password_test"));
        return token_of(r.body()).value_or("");
    }
    int verify(const std::string& token) {
        http_client c(port());
        return c.roundtrip(make_request("GET", "/verify", {"Token: " + token})).result_int();
    }
    run_result authctl(const std::vector<std::string>& args) {
        std::vector<std::string> argv{authctl_bin()};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_command(argv);
    }
    // SIGHUP, then wait for the reload to be logged (n-th time).
    void reload(std::size_t n) {
        server().signal(SIGHUP);
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (std::chrono::steady_clock::now() < deadline) {
            const auto text = server().stderr_text();
            std::size_t count = 0;
            for (auto at = text.find("keys_reloaded"); at != std::string::npos;
                 at = text.find("keys_reloaded", at + 1)) {
                ++count;
            }
            if (count >= n) {
                return;
            }
            std::this_thread::sleep_for(20ms);
        }
        FAIL() << "no reload logged:\n" << server().stderr_text();
    }
};

TEST_F(KeysTest, RotationOnSighupKeepsOldTokensValidUntilTheKeyIsRemoved) {
    env_.add_user("user_test", "password_test");
    start();
    const auto old_token = login();
    ASSERT_EQ(split_jwt(old_token).value().header, seed_jwt_header);  // one key: the seed's header

    ASSERT_EQ(authctl({"key", "rotate", env_.key_file()}).exit_code, 0);
    http_client held(port());  // a connection open across the reload is not dropped
    ASSERT_EQ(held.roundtrip(make_request("GET", "/healthz", {})).result_int(), 200);
    reload(1);
    const auto new_token = login();
    const auto header = base64url_decode(split_jwt(new_token).value().header).value();
    EXPECT_NE(header.find(R"("kid":")"), std::string::npos) << header;  // two keys: kid
    EXPECT_EQ(verify(old_token), 200);
    EXPECT_EQ(verify(new_token), 200);
    EXPECT_EQ(held.roundtrip(make_request("GET", "/healthz", {})).result_int(), 200);

    const auto listed = authctl({"key", "list", env_.key_file()});
    ASSERT_EQ(listed.exit_code, 0) << listed.err;
    const auto old_kid = listed.out.substr(0, listed.out.find_first_of(" \t"));
    ASSERT_EQ(authctl({"key", "remove", env_.key_file(), old_kid}).exit_code, 0);
    reload(2);
    EXPECT_EQ(verify(old_token), 401);
    EXPECT_EQ(verify(new_token), 200);
}

TEST_F(KeysTest, BadKeyFileOnSighupKeepsTheKeysInUse) {
    env_.add_user("user_test", "password_test");
    start();
    const auto token = login();
    {
        std::FILE* f = std::fopen(env_.key_file().c_str(), "w");
        std::fputs("short", f);
        std::fclose(f);
    }
    server().signal(SIGHUP);
    EXPECT_TRUE(server().wait_for_stderr("keys_reload_failed", 10s));
    EXPECT_EQ(verify(token), 200);
    EXPECT_EQ(split_jwt(login()).value().header, seed_jwt_header);
}

// A FIFO put in place of the key file: the reload refuses it at once (it once waited in open(),
// for good: later reloads and SIGTERM were never acted on), and the next reload of a valid file
// and SIGTERM work.
TEST_F(KeysTest, FifoInPlaceOfTheKeyFileOnSighupIsRefusedAtOnce) {
    env_.add_user("user_test", "password_test");
    start();
    const auto token = login();
    const auto saved = env_.dir().file("key.saved");
    ASSERT_EQ(::rename(env_.key_file().c_str(), saved.c_str()), 0);
    ASSERT_EQ(::mkfifo(env_.key_file().c_str(), 0600), 0);
    server().signal(SIGHUP);
    EXPECT_TRUE(server().wait_for_stderr("is not a regular file", 10s)) << server().stderr_text();
    EXPECT_EQ(verify(token), 200);
    ASSERT_EQ(::rename(saved.c_str(), env_.key_file().c_str()), 0);
    reload(1);
    EXPECT_EQ(verify(token), 200);
    EXPECT_EQ(stop_server(), 0);
}

TEST_F(KeysTest, EdDsaTokensVerifyOfflineWithTheServedJwks) {
    env_.add_user("user_test", "password_test");
    ASSERT_EQ(authctl({"key", "rotate", env_.key_file(), "--alg", "EdDSA"}).exit_code, 0);
    start();
    const auto token = login();
    ASSERT_FALSE(token.empty());
    http_client c(port());
    const auto jwks = c.roundtrip(make_request("GET", "/.well-known/jwks.json", {}));
    ASSERT_EQ(jwks.result_int(), 200);
    EXPECT_NE(jwks.body().find(R"("kty":"OKP","crv":"Ed25519")"), std::string::npos);
    EXPECT_EQ(jwks.body().find(R"("k":)"), std::string::npos);  // no symmetric secret, ever
    const auto check = [&](const std::string& t) {
        return run_command(
            {python_bin(), tests_dir() + "/jwks_check.py"},
            R"({"jwks":)" + jwks.body() + R"(,"token":")" + t + R"(","user":"user_test"})");
    };
    const auto good = check(token);
    EXPECT_EQ(good.exit_code, 0) << good.err;
    auto tampered = token;
    tampered[tampered.find('.') + 2] ^= 1;
    EXPECT_EQ(check(tampered).exit_code, 1);  // the independent check can fail
    EXPECT_EQ(verify(token), 200);
}

}  // namespace
}  // namespace authd_it
