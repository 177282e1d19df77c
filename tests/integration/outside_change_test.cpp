// Users changed by authctl while authd serves the same SQLite store (docs/operations.md): the
// user cache is dropped at once, so that no login is answered from a record the store no longer
// holds.
#include <string>

#include "harness.hpp"

namespace authd_it {
namespace {

class OutsideChange : public authd_test {
  protected:
    int login_status(const std::string& user, const std::string& password) {
        http_client c(port());
        return c.roundtrip(login_request(user, password)).result_int();
    }

    long cache_hits() { return metric_value(port(), "authd_user_cache_hits_total"); }
};

TEST_F(OutsideChange, AuthctlPasswdAndRemoveWhileServingDropTheCachedUser) {
    env_.add_user("alice", "old password");
    start();
    ASSERT_EQ(login_status("alice", "old password"), 200);
    const auto hits = cache_hits();
    ASSERT_EQ(login_status("alice", "old password"), 200);
    ASSERT_EQ(cache_hits(), hits + 1) << "the second login did not come from the cache";

    const auto changed = env_.authctl({"user", "passwd", "alice"}, "new password\n");
    ASSERT_EQ(changed.exit_code, 0) << changed.err;
    EXPECT_EQ(login_status("alice", "old password"), 404);
    EXPECT_EQ(login_status("alice", "new password"), 200);
    EXPECT_EQ(login_status("alice", "new password"), 200);  // cached again

    const auto removed = env_.authctl({"user", "remove", "alice"});
    ASSERT_EQ(removed.exit_code, 0) << removed.err;
    EXPECT_EQ(login_status("alice", "new password"), 404);
}

}  // namespace
}  // namespace authd_it
