// The SQLite store file under a running authd: deleted, replaced by another store (a backup put
// back with mv), replaced by something that is not a store; and the permissions the store and its
// -wal/-shm files are created with. Against the real authd and authctl.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "harness.hpp"

namespace authd_it {
namespace {

// Sets the process umask (inherited by the authctl and authd children) for one scope.
class umask_scope {
  public:
    explicit umask_scope(mode_t mask) : old_(::umask(mask)) {}
    ~umask_scope() { ::umask(old_); }
    umask_scope(const umask_scope&) = delete;
    umask_scope& operator=(const umask_scope&) = delete;

  private:
    mode_t old_;
};

// The permission bits of path, or -1 when it does not exist.
int mode_of(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return -1;
    }
    return static_cast<int>(st.st_mode & 07777);
}

std::size_t count_lines(const authd_process& p, std::string_view needle) {
    const auto lines = p.stderr_lines();
    return static_cast<std::size_t>(std::count_if(lines.begin(), lines.end(), [&](const auto& l) {
        return l.find(needle) != std::string::npos;
    }));
}

// The first line of p's standard error containing needle, or "".
std::string line_with(const authd_process& p, std::string_view needle) {
    for (const auto& line : p.stderr_lines()) {
        if (line.find(needle) != std::string::npos) {
            return line;
        }
    }
    return {};
}

class StoreFile : public authd_test {
  protected:
    std::string db() const { return env_.store_uri().substr(std::string("sqlite:").size()); }

    // A store made by the real authctl at path, holding user (password "pw-" + user).
    static void make_store(const std::string& path, const std::string& user) {
        const auto r =
            run_command({authctl_bin(), "--store", "sqlite:" + path, "--hash-memory",
                         cheap_hash.memory, "--hash-ops", cheap_hash.ops, "user", "add", user},
                        "pw-" + user + "\n");
        ASSERT_EQ(r.exit_code, 0) << r.err;
    }

    int login(const std::string& user) {
        http_client c(port());
        return c.roundtrip(login_request(user, "pw-" + user)).result_int();
    }

    std::string login_token(const std::string& user) {
        http_client c(port());
        const auto r = c.roundtrip(login_request(user, "pw-" + user));
        const auto token = token_of(r.body());
        EXPECT_TRUE(token.has_value()) << r.body();
        return token.value_or("");
    }

    // Three logins of user on one connection are refused with code and message, /readyz is 503,
    // and the log has event once.
    void expect_refused(const std::string& user, int code, std::string_view message,
                        std::string_view event) {
        http_client c(port());
        for (int i = 0; i < 3; ++i) {
            const auto r = c.roundtrip(login_request(user, "pw-" + user));
            EXPECT_EQ(r.result_int(), code) << "attempt " << i;
            EXPECT_EQ(r.body(), error_body(code, message)) << "attempt " << i;
        }
        EXPECT_EQ(readyz(), 503);
        EXPECT_EQ(count_lines(server(), "\"event\":\"" + std::string(event) + "\""), 1U)
            << server().stderr_text();
    }

    int readyz() {
        http_client c(port());
        return c.roundtrip(make_request("GET", "/readyz", {})).result_int();
    }

    bool wait_ready() {
        const auto deadline = std::chrono::steady_clock::now() + 15s;
        while (std::chrono::steady_clock::now() < deadline) {
            if (readyz() == 200) {
                return true;
            }
            std::this_thread::sleep_for(100ms);
        }
        return false;
    }
};

// (a) The store file is deleted under authd: the user who was in it, even cached, no longer logs
// in (503, the store cannot be reached), /readyz fails, and the log says so once.
TEST_F(StoreFile, DeletedStoreIsRefusedReportedAndNotReady) {
    make_store(db(), "alice");
    start();
    ASSERT_EQ(login("alice"), 200);  // now cached too
    ASSERT_EQ(readyz(), 200);

    ASSERT_EQ(::unlink(db().c_str()), 0);
    expect_refused("alice", 503, "Server busy, retry later.", "store_file_missing");
    const auto line = line_with(server(), "store_file_missing");
    EXPECT_NE(line.find("\"level\":\"error\""), std::string::npos) << line;
    EXPECT_NE(line.find(db()), std::string::npos) << line;
}

// (b) Another store made by authctl is moved over the store file (a backup put back): authd
// serves the new file within a moment, reads it as at start (users, revocations), and keeps the
// revocations the old file had.
TEST_F(StoreFile, ReplacedStoreIsReopenedAndServed) {
    make_store(db(), "alice");
    start();
    ASSERT_EQ(login("alice"), 200);
    const auto revoked = login_token("alice");
    {
        http_client c(port());
        ASSERT_EQ(c.roundtrip(make_request("POST", "/logout", {"Authorization: Bearer " + revoked}))
                      .result_int(),
                  200);
    }
    const std::string other = env_.dir().file("other.db");
    make_store(other, "bob");
    ASSERT_EQ(std::rename(other.c_str(), db().c_str()), 0);

    // Noticed by the login's own store call: the first login after the mv is served from it.
    EXPECT_EQ(login("bob"), 200) << server().stderr_text();
    EXPECT_EQ(login("alice"), 404);  // not in the new file, and no longer cached
    EXPECT_EQ(readyz(), 200);
    EXPECT_EQ(count_lines(server(), "\"event\":\"store_file_replaced\""), 1U)
        << server().stderr_text();

    // The new file is the one authd now reads and writes: a user added to it by authctl logs
    // in, and the revocation made before the move is in it (it survives a restart).
    make_store(db(), "carol");
    EXPECT_EQ(login("carol"), 200);
    ASSERT_EQ(stop_server(), 0);
    start();
    http_client c(port());
    EXPECT_EQ(c.roundtrip(make_request("GET", "/verify", {"Token: " + revoked})).result_int(), 401);
    EXPECT_EQ(login("bob"), 200);
}

// (c) A /logout while the store file is missing is not acknowledged (it would be lost at the
// next start); once a store is back, it is, and it lasts.
TEST_F(StoreFile, LogoutWhileStoreIsMissingIsNotAcknowledged) {
    make_store(db(), "alice");
    start();
    const auto token = login_token("alice");
    ASSERT_EQ(::unlink(db().c_str()), 0);
    {
        http_client c(port());
        const auto r =
            c.roundtrip(make_request("POST", "/logout", {"Authorization: Bearer " + token}));
        EXPECT_EQ(r.result_int(), 503);
        EXPECT_EQ(r.body(), error_body(503, "Server busy, retry later."));
    }
    const std::string backup = env_.dir().file("backup.db");
    make_store(backup, "alice");
    ASSERT_EQ(std::rename(backup.c_str(), db().c_str()), 0);
    ASSERT_EQ(login("alice"), 200) << server().stderr_text();
    {
        http_client c(port());
        EXPECT_EQ(c.roundtrip(make_request("POST", "/logout", {"Authorization: Bearer " + token}))
                      .result_int(),
                  200);
    }
    ASSERT_EQ(stop_server(), 0);
    start();
    http_client c(port());
    EXPECT_EQ(c.roundtrip(make_request("GET", "/verify", {"Token: " + token})).result_int(), 401);
}

// A file that is not a store is moved over the store file: logins fail with 500 (the store
// failed), /readyz fails, the log says why once; a valid store moved there afterwards is served.
TEST_F(StoreFile, InvalidFileAtThePathIsRefusedUntilAValidOneIsBack) {
    make_store(db(), "alice");
    start();
    ASSERT_EQ(login("alice"), 200);
    const std::string junk = env_.dir().file("junk");
    {
        std::ofstream f(junk, std::ios::binary);
        f << std::string(8192, 'x');
    }
    ASSERT_EQ(std::rename(junk.c_str(), db().c_str()), 0);
    expect_refused("alice", 500, "Internal error.", "store_file_replaced");
    EXPECT_NE(line_with(server(), "store_file_replaced").find("not a database"), std::string::npos)
        << server().stderr_text();

    const std::string good = env_.dir().file("good.db");
    make_store(good, "bob");
    ASSERT_EQ(std::rename(good.c_str(), db().c_str()), 0);
    EXPECT_EQ(login("bob"), 200) << server().stderr_text();
    // Ready again once no call has failed for a few seconds (/readyz's usual hysteresis).
    EXPECT_TRUE(wait_ready());
}

// Item 11: authctl and authd create the store, and SQLite its -wal and -shm files, readable by
// the owner only, whatever the umask.
TEST_F(StoreFile, CreatedOwnerOnlyUnderUmask022) {
    const umask_scope mask(022);
    make_store(db(), "alice");
    EXPECT_EQ(mode_of(db()), 0600);
    start();
    ASSERT_EQ(login("alice"), 200);
    // authd holds the store open: its -wal and -shm files exist.
    EXPECT_EQ(mode_of(db() + "-wal"), 0600);
    EXPECT_EQ(mode_of(db() + "-shm"), 0600);
    ASSERT_EQ(stop_server(), 0);

    // A store that authd creates itself.
    ASSERT_EQ(::unlink(db().c_str()), 0);
    start();
    EXPECT_EQ(mode_of(db()), 0600);
    EXPECT_EQ(mode_of(db() + "-wal"), 0600);
    EXPECT_EQ(mode_of(db() + "-shm"), 0600);
    EXPECT_EQ(server().stderr_text().find("store_not_private"), std::string::npos)
        << server().stderr_text();
}

// Item 11: an existing store that group or others may read is warned of by authctl and authd
// at start (both still work with it); a private one is not.
TEST_F(StoreFile, ExistingStoreReadableByOthersIsWarnedOf) {
    make_store(db(), "alice");
    ASSERT_EQ(::chmod(db().c_str(), 0600), 0);
    const auto quiet = run_command({authctl_bin(), "--store", env_.store_uri(), "user", "list"});
    EXPECT_EQ(quiet.exit_code, 0) << quiet.err;
    EXPECT_EQ(quiet.err.find("group or others"), std::string::npos) << quiet.err;

    ASSERT_EQ(::chmod(db().c_str(), 0644), 0);
    const auto listed = run_command({authctl_bin(), "--store", env_.store_uri(), "user", "list"});
    EXPECT_EQ(listed.exit_code, 0) << listed.err;
    EXPECT_NE(listed.out.find("alice"), std::string::npos) << listed.out;
    EXPECT_NE(listed.err.find("authctl: warning: "), std::string::npos) << listed.err;
    EXPECT_NE(listed.err.find("group or others"), std::string::npos) << listed.err;
    EXPECT_NE(listed.err.find("chmod 600 " + db()), std::string::npos) << listed.err;

    start();
    EXPECT_EQ(login("alice"), 200);
    const auto line = line_with(server(), "\"event\":\"store_not_private\"");
    EXPECT_NE(line.find("\"level\":\"warn\""), std::string::npos) << server().stderr_text();
    EXPECT_NE(line.find("chmod 600 " + db()), std::string::npos) << line;
}

}  // namespace
}  // namespace authd_it
