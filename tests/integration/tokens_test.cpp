// Tokens and user changes against the real authd on SQLite (issue 10, item 8): after authctl user
// passwd or user remove, the user's earlier tokens stop verifying within about a second, also on a
// node where nobody logs in, and a login right after the change gets a token that verifies.
// (Two nodes on PostgreSQL: pg_test.cpp.)
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace authd_it {
namespace {

class TokenCutoffTest : public authd_test {
  protected:
    run_result authctl(const std::vector<std::string>& args, const std::string& input = {}) const {
        return env_.authctl(args, input);
    }

    std::string login_token(const std::string& user, const std::string& password) {
        http_client c(port());
        const auto r = c.roundtrip(login_request(user, password));
        const auto token = token_of(r.body());
        EXPECT_TRUE(token.has_value()) << r.body();
        return token.value_or("");
    }

    int verify(const std::string& token) {
        http_client c(port());
        return c.roundtrip(make_request("GET", "/verify", {"Token: " + token})).result_int();
    }

    // /verify until it answers something else than 200 (the answer), or 200 after 5 s: a bound
    // on the wait, not a timing assertion. How long it took is recorded (docs/security.md).
    int verify_until_refused(const std::string& token) {
        const auto start = std::chrono::steady_clock::now();
        int code = verify(token);
        while (code == 200 && std::chrono::steady_clock::now() < start + 5s) {
            std::this_thread::sleep_for(20ms);
            code = verify(token);
        }
        const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - start);
        RecordProperty("refused_after_ms", static_cast<int>(took.count()));
        return code;
    }
};

// Nobody logs in after the change: the node learns of it by itself (its periodic store check).
TEST_F(TokenCutoffTest, PasswordChangeVoidsEarlierTokensOnAnIdleNode) {
    env_.add_user("alice", "old password");
    env_.add_user("bob", "bob's password");
    start();
    const auto old_token = login_token("alice", "old password");
    const auto bob = login_token("bob", "bob's password");
    ASSERT_EQ(verify(old_token), 200);

    const auto r = authctl({"user", "passwd", "alice"}, "new password\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(verify_until_refused(old_token), 401);
    http_client c(port());
    EXPECT_EQ(c.roundtrip(make_request("GET", "/verify", {"Token: " + old_token})).body(),
              error_body(401, "Invalid or expired token."));

    const auto fresh = login_token("alice", "new password");
    EXPECT_EQ(verify(fresh), 200);
    EXPECT_EQ(verify(old_token), 401);
    EXPECT_EQ(verify(bob), 200) << "only alice's tokens are void";
}

// A login with the new password right after the change (in the same second, most of the time)
// gets a token that verifies at once; the token of the round before is refused. (Cutoffs have a
// resolution of one second — docs/api.md — so each round's change waits for the next second.)
TEST_F(TokenCutoffTest, LoginRightAfterAPasswordChangeGetsAValidToken) {
    env_.add_user("alice", "old password");
    start();
    auto previous = login_token("alice", "old password");
    for (int round = 0; round < 3; ++round) {
        const auto issued = unix_now();
        while (unix_now() <= issued + 1) {  // past the previous token's iat (up to now + 1)
            std::this_thread::sleep_for(50ms);
        }
        const std::string password = "password " + std::to_string(round);
        const auto r = authctl({"user", "passwd", "alice"}, password + "\n");
        ASSERT_EQ(r.exit_code, 0) << r.err;
        const auto fresh = login_token("alice", password);
        EXPECT_EQ(verify(fresh), 200) << "round " << round;
        EXPECT_EQ(verify_until_refused(previous), 401) << "round " << round;
        previous = fresh;
    }
}

// A removed user's tokens are void, and stay void when a user of the same name is added again
// and after a restart; the new user's tokens verify.
TEST_F(TokenCutoffTest, RemovalVoidsTheUsersTokensForGood) {
    env_.add_user("alice", "secret");
    env_.add_user("bob", "bob's password");
    start();
    const auto old_token = login_token("alice", "secret");
    const auto bob = login_token("bob", "bob's password");
    ASSERT_EQ(verify(old_token), 200);

    const auto r = authctl({"user", "remove", "alice"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(verify_until_refused(old_token), 401);
    EXPECT_EQ(verify(bob), 200);

    env_.add_user("alice", "secret");
    const auto new_alice = login_token("alice", "secret");
    EXPECT_EQ(verify(new_alice), 200);
    EXPECT_EQ(verify(old_token), 401);

    ASSERT_EQ(stop_server(), 0);
    start();
    EXPECT_EQ(verify(old_token), 401) << "the cutoff is in the store";
    EXPECT_EQ(verify(new_alice), 200);
    EXPECT_EQ(verify(bob), 200);
}

// The void lasts as long as the tokens it voids could (ttl + leeway), not until the store checks
// (twice a second) purge the cutoffs: seconds after the change, the old token is still refused.
TEST_F(TokenCutoffTest, TheVoidOutlastsTheStoreChecks) {
    env_.add_user("alice", "old password");
    start();
    const auto old_token = login_token("alice", "old password");
    const auto r = authctl({"user", "passwd", "alice"}, "new password\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto changed = unix_now();
    EXPECT_EQ(verify_until_refused(old_token), 401);
    // The cutoff is the change's second + 1: two seconds past that, several checks have run.
    while (unix_now() < changed + 3) {
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(verify(old_token), 401);
    EXPECT_EQ(verify(login_token("alice", "new password")), 200);
}

}  // namespace
}  // namespace authd_it
