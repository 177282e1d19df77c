// The rehash after a login (docs/architecture.md): a hash of other parameters is replaced by one of
// authd's, but only over the hash that was verified, never over a password changed meanwhile.
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "harness.hpp"

namespace authd_it {
namespace {

class RehashTest : public authd_test {
  protected:
    // authctl user passwd NAME, the password on standard input, hashed at cost.
    void passwd(const std::string& user, const std::string& password,
                const hash_cost& cost = cheap_hash) const {
        const auto r = env_.authctl({"user", "passwd", user}, password + "\n", cost);
        ASSERT_EQ(r.exit_code, 0) << r.err;
    }

    // The user's hash as the store holds it, read with Python's sqlite3 (read-only).
    std::string stored_hash(const std::string& user) const {
        const auto db = env_.store_uri().substr(std::string_view("sqlite:").size());
        const auto r =
            run_command({python_bin(), "-c",
                         "import sqlite3, sys\n"
                         "db = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)\n"
                         "print(db.execute('SELECT phc FROM users WHERE name = ?', (sys.argv[2],))"
                         ".fetchone()[0])\n",
                         db, user});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return r.out;
    }

    int login_status(const std::string& user, const std::string& password) {
        http_client c(port());
        return c.roundtrip(login_request(user, password)).result_int();
    }

    // The hash workers verifying a password now, from /metrics.
    long busy_workers() { return metric_value(port(), "authd_hash_workers_busy"); }
};

// authd's parameters (cheap) differ from the stored hash's: the first login rehashes.
TEST_F(RehashTest, LoginReplacesAHashOfOtherParameters) {
    env_.add_user("alice", "password", costly_hash);
    start();
    EXPECT_NE(stored_hash("alice").find("$m=8192,t=3,"), std::string::npos);
    EXPECT_EQ(login_status("alice", "password"), 200);
    EXPECT_NE(stored_hash("alice").find("$m=64,t=1,"), std::string::npos) << stored_hash("alice");
    EXPECT_EQ(login_status("alice", "password"), 200);
    EXPECT_EQ(login_status("alice", "wrong"), 404);
}

// The minor page faults of a process so far, all its threads' (/proc/PID/stat, field 10).
long minor_faults(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    const std::string stat{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string field;
    for (int i = 3; i <= 10 && fields >> field; ++i) {
    }
    return std::stol(field);
}

// The new hash is made by the worker's hash helper, as every argon2 call is, never in authd's own
// threads (docs/security.md, docs/architecture.md): argon2 maps and faults in its whole memory
// cost (32 MiB here: 8,192 pages), which authd's process never does for a login.
TEST_F(RehashTest, TheNewHashIsMadeOutsideAuthdsProcess) {
    env_.add_user("alice", "password");
    start(authd_args().workers("1").hash({"32MiB", "1"}));
    const auto before = minor_faults(server().pid());
    EXPECT_EQ(login_status("alice", "password"), 200);
    EXPECT_NE(stored_hash("alice").find("$m=32768,t=1,"), std::string::npos)
        << stored_hash("alice");
    EXPECT_LT(minor_faults(server().pid()) - before, 4096) << "a 32 MiB hash made in authd";
}

// authctl user passwd lands while authd verifies the old password against a slow hash (the
// worker is seen busy before and after the change): the login succeeds, its rehash finds the
// stored hash changed and leaves it, so the new password works and the old one does not.
TEST_F(RehashTest, RehashDuringAPasswordChangeKeepsTheNewPassword) {
    // Slow enough that authctl's whole run fits inside one verification of it; three times
    // slower each round that it did not (a sanitizer slows authctl, not libsodium's argon2).
    const std::vector<hash_cost> slower{{"16MiB", "20"}, {"16MiB", "60"}, {"16MiB", "180"}};
    env_.add_user("alice", "old password", slower[0]);
    start(authd_args().workers("1"));
    bool overlapped = false;
    for (std::size_t round = 0; round < slower.size() && !overlapped && !HasFailure(); ++round) {
        if (round > 0) {  // the last round's change did not overlap: start again from the old one
            passwd("alice", "old password", slower[round]);
        }
        http_client login(port());
        login.send(login_request("alice", "old password"));
        // Busy twice in a row, a little apart: the login's verification, not a store check (which
        // takes a worker for microseconds).
        const auto verifying = [&] {
            if (busy_workers() != 1) {
                return false;
            }
            std::this_thread::sleep_for(20ms);
            return busy_workers() == 1;
        };
        for (int i = 0; i < 2000 && !verifying(); ++i) {
            std::this_thread::sleep_for(1ms);
        }
        passwd("alice", "new password");
        overlapped = busy_workers() == 1;  // still verifying: the change came before the rehash
        EXPECT_EQ(login.read_response().result_int(), 200);  // the old password, verified
    }
    ASSERT_TRUE(overlapped) << "the password change never landed during the verification";
    EXPECT_EQ(login_status("alice", "new password"), 200) << stored_hash("alice");
    EXPECT_EQ(login_status("alice", "old password"), 404);
}

}  // namespace
}  // namespace authd_it
