// authd and authctl on PostgreSQL (issue 5): the login contract, two nodes on one database
// (changes and logouts seen within 1 s), PostgreSQL restarting under load, start-up failures, and
// two nodes behind nginx with the configuration of docs/nginx-authd.conf.
//
// scripts/test.sh starts a throw-away cluster and sets AUTHD_TEST_PG_URI; without it these tests
// are skipped. Each test uses a database of its own (the PgTest fixture, harness/pg.hpp); the
// outage test starts a private cluster.
#include <arpa/inet.h>
#include <atomic>
#include <fcntl.h>
#include <memory>
#include <mutex>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <regex>
#include <signal.h>
#include <spawn.h>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "harness.hpp"

extern char** environ;

namespace authd_it {
namespace {

using steady = std::chrono::steady_clock;

const std::string busy_body = error_body(503, "Server busy, retry later.");

response login(std::uint16_t port, const std::string& user, const std::string& password) {
    http_client client(port, 10s);
    return client.roundtrip(login_request(user, password, true));
}

// Logins until the answer to (user, password) is not a 200 any more; how long that took, or
// nullopt when it still was after timeout.
std::optional<std::chrono::milliseconds> time_until_refused(std::uint16_t port,
                                                            const std::string& user,
                                                            const std::string& password,
                                                            std::chrono::milliseconds timeout,
                                                            steady::time_point since) {
    while (steady::now() - since < timeout) {
        const auto r = login(port, user, password);
        if (r.result_int() != 200) {
            EXPECT_EQ(r.body(), not_found_body);
            return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - since);
        }
        std::this_thread::sleep_for(5ms);
    }
    return std::nullopt;
}

// --- the login contract ------------------------------------------------------------------------

TEST_F(PgTest, LoginContract) {
    add_user("user_test", "password_test");
    const auto port = start_node();

    const auto ok = login(port, "user_test", "password_test");
    ASSERT_EQ(status_line(ok), "HTTP/1.1 200 OK");
    const auto token = token_of(ok.body());
    ASSERT_TRUE(token) << ok.body();
    const auto checked = jwt_check(key_file_, "user_test", *token);
    EXPECT_EQ(checked.exit_code, 0) << checked.out << checked.err;

    for (const auto& [user, password] :
         {std::pair{"user_test", "wrong"}, std::pair{"nobody", "password_test"}}) {
        const auto r = login(port, user, password);
        EXPECT_EQ(status_line(r), "HTTP/1.1 404 Not Found");
        EXPECT_EQ(r.body(), not_found_body);
    }
    http_client client(port);
    const auto no_password =
        client.roundtrip(make_request("GET", "/login", {"User-Name: user_test"}));
    EXPECT_EQ(no_password.body(), error_body(402, "Required field < Password > is not specified."));
    const auto no_user =
        client.roundtrip(make_request("GET", "/login", {"Password: password_test"}));
    EXPECT_EQ(no_user.body(), error_body(402, "Required field < User-Name > is not specified."));
}

TEST_F(PgTest, AuthctlManagesUsers) {
    add_user("bob", "b");
    add_user("alice", "a");
    EXPECT_EQ(authctl({"user", "add", "alice"}, "again\n").exit_code, 1);
    EXPECT_EQ(authctl({"user", "list"}).out, "alice\nbob\n");
    EXPECT_EQ(authctl({"user", "passwd", "alice"}, "a2\n").exit_code, 0);
    EXPECT_EQ(authctl({"user", "remove", "bob"}).exit_code, 0);
    EXPECT_EQ(authctl({"user", "remove", "bob"}).exit_code, 1);
    EXPECT_EQ(authctl({"user", "import", "-"}, "carol\tc\ndave\td\n").exit_code, 0);
    EXPECT_EQ(authctl({"user", "list"}).out, "alice\ncarol\ndave\n");

    const auto port = start_node();
    EXPECT_EQ(login(port, "alice", "a2").result_int(), 200);
    EXPECT_EQ(login(port, "dave", "d").result_int(), 200);
    EXPECT_EQ(login(port, "bob", "b").result_int(), 404);
}

// --- two nodes on one database -----------------------------------------------------------------

TEST_F(PgTest, PasswordChangeRefusedOnEveryNodeWithinOneSecond) {
    add_user("alice", "old password");
    const auto first = start_node();
    const auto second = start_node();
    // Cached on both nodes.
    ASSERT_EQ(login(first, "alice", "old password").result_int(), 200);
    ASSERT_EQ(login(second, "alice", "old password").result_int(), 200);

    const auto r = authctl({"user", "passwd", "alice"}, "new password\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto changed = steady::now();
    for (const auto port : {first, second}) {
        const auto took = time_until_refused(port, "alice", "old password", 1s, changed);
        EXPECT_TRUE(took) << "the old password still works on a node after 1 s";
    }
    EXPECT_EQ(login(first, "alice", "new password").result_int(), 200);
    EXPECT_EQ(login(second, "alice", "new password").result_int(), 200);
}

TEST_F(PgTest, RemovedUserRefusedOnEveryNodeWithinOneSecond) {
    add_user("alice", "secret");
    const auto first = start_node();
    const auto second = start_node();
    ASSERT_EQ(login(first, "alice", "secret").result_int(), 200);
    ASSERT_EQ(login(second, "alice", "secret").result_int(), 200);

    const auto r = authctl({"user", "remove", "alice"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto removed = steady::now();
    for (const auto port : {first, second}) {
        EXPECT_TRUE(time_until_refused(port, "alice", "secret", 1s, removed))
            << "a removed user still logs in on a node after 1 s";
    }
}

unsigned verify(std::uint16_t port, const std::string& token) {
    http_client client(port, 10s);
    return client.roundtrip(make_request("GET", "/verify", {"Token: " + token})).result_int();
}

// /verify of token on port until it is refused; how long that took, or nullopt when it was still
// accepted after timeout.
std::optional<std::chrono::milliseconds> time_until_revoked(std::uint16_t port,
                                                            const std::string& token,
                                                            std::chrono::milliseconds timeout,
                                                            steady::time_point since) {
    while (steady::now() - since < timeout) {
        const auto code = verify(port, token);
        if (code != 200) {
            EXPECT_EQ(code, 401U);
            return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - since);
        }
        std::this_thread::sleep_for(5ms);
    }
    return std::nullopt;
}

TEST_F(PgTest, LogoutRefusedOnEveryNodeWithinOneSecondAndAcrossRestarts) {
    add_user("alice", "secret");
    const auto first = start_node();
    const auto second = start_node();
    const auto login_token = [](std::uint16_t port) {
        const auto r = login(port, "alice", "secret");
        const auto token = token_of(r.body());
        EXPECT_TRUE(token) << r.body();
        return token.value_or("");
    };
    const auto token = login_token(first);
    const auto other = login_token(second);
    for (const auto port : {first, second}) {
        ASSERT_EQ(verify(port, token), 200U);
        ASSERT_EQ(verify(port, other), 200U);
    }

    http_client client(first);
    const auto out =
        client.roundtrip(make_request("POST", "/logout", {"Authorization: Bearer " + token}));
    ASSERT_EQ(out.result_int(), 200) << out.body();
    const auto logged_out = steady::now();
    EXPECT_EQ(verify(first, token), 401U);
    EXPECT_TRUE(time_until_revoked(second, token, 1s, logged_out))
        << "a logged-out token still verifies on the other node after 1 s";
    EXPECT_EQ(verify(second, other), 200U) << "only the token logged out is revoked";

    // A node started afterwards, and a node restarted, read the revocation from the database.
    EXPECT_EQ(nodes_.back()->terminate(15s), 0);
    const auto restarted = start_node();
    EXPECT_EQ(verify(restarted, token), 401U);
    EXPECT_EQ(verify(restarted, other), 200U);

    // And a logout on the restarted node reaches the first one.
    http_client restarted_client(restarted);
    const auto again = restarted_client.roundtrip(
        make_request("POST", "/logout", {"Authorization: Bearer " + other}));
    ASSERT_EQ(again.result_int(), 200) << again.body();
    EXPECT_TRUE(time_until_revoked(first, other, 1s, steady::now()))
        << "a token logged out on a restarted node still verifies on the other after 1 s";
}

// authctl user passwd and user remove void the user's earlier tokens on every node (the change
// feed), and a login right after the change, on either node, gets a token both accept.
TEST_F(PgTest, ChangedOrRemovedUsersTokensRefusedOnEveryNode) {
    add_user("alice", "old password");
    add_user("bob", "bob's password");
    add_user("carol", "carol's password");
    const auto first = start_node();
    const auto second = start_node();
    const auto login_token = [](std::uint16_t port, const std::string& user,
                                const std::string& password) {
        const auto r = login(port, user, password);
        const auto token = token_of(r.body());
        EXPECT_TRUE(token) << r.body();
        return token.value_or("");
    };
    const auto alice = login_token(first, "alice", "old password");
    const auto bob = login_token(second, "bob", "bob's password");
    const auto carol = login_token(first, "carol", "carol's password");
    for (const auto port : {first, second}) {
        ASSERT_EQ(verify(port, alice), 200U);
        ASSERT_EQ(verify(port, bob), 200U);
    }

    auto r = authctl({"user", "passwd", "alice"}, "new password\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto changed = steady::now();
    const auto fresh = login_token(second, "alice", "new password");
    for (const auto port : {first, second}) {
        const auto took = time_until_revoked(port, alice, 3s, changed);
        EXPECT_TRUE(took) << "a token from before the password change still verifies on a node";
        RecordProperty(port == first ? "first_refused_after_ms" : "second_refused_after_ms",
                       static_cast<int>(took.value_or(3s).count()));
        EXPECT_EQ(verify(port, fresh), 200U) << "the new password's token";
    }

    r = authctl({"user", "remove", "bob"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto removed = steady::now();
    for (const auto port : {first, second}) {
        EXPECT_TRUE(time_until_revoked(port, bob, 3s, removed))
            << "a removed user's token still verifies on a node";
        EXPECT_EQ(verify(port, carol), 200U) << "only the changed users' tokens";
    }

    // A node started afterwards reads the cutoffs from the database.
    const auto third = start_node();
    EXPECT_EQ(verify(third, alice), 401U);
    EXPECT_EQ(verify(third, bob), 401U);
    EXPECT_EQ(verify(third, fresh), 200U);
    EXPECT_EQ(verify(third, carol), 200U);
}

// --- start-up failures -------------------------------------------------------------------------

TEST_F(PgTest, BadStoreStopsAuthdWithAClearMessage) {
    const std::string base = *pg_base_uri();
    const auto port_of = [&] {
        const auto colon = base.rfind(':');
        return base.substr(colon + 1, base.find('/', colon) - colon - 1);
    };
    struct test_case {
        std::string uri;
        std::string reason;
    };
    // Each with a password, which must not show in the message.
    const test_case cases[] = {
        {pg_uri_for(base, "authd_test", "authd", "hunter2secret") + "?nonsense=1",
         "invalid URI query parameter: \"nonsense\""},
        {pg_uri_for(base, "authd_test", "authd_pw", "hunter2secret"),
         "password authentication failed for user \"authd_pw\""},
        {pg_uri_for(base, "no_such_database", "authd", "hunter2secret"),
         "database \"no_such_database\" does not exist"},
        {"postgresql://authd:hunter2secret@127.0.0.2:" + port_of() + "/authd_test",
         "Connection refused"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.uri);
        authd_process authd(pg_node_args(c.uri, key_file_));
        const auto status = authd.wait_exit(10s);
        ASSERT_TRUE(status) << "authd still runs";
        EXPECT_EQ(*status, 1);
        EXPECT_TRUE(authd.wait_for_stderr(c.reason, 2s)) << authd.stderr_text();
        EXPECT_EQ(authd.stderr_text().find("hunter2secret"), std::string::npos)
            << authd.stderr_text();
    }
}

// --- PostgreSQL restarting under load ----------------------------------------------------------

// Logins of one cached user in a loop on a thread of its own, counting the answers.
class steady_load {
  public:
    steady_load(std::uint16_t port, std::string user, std::string password)
        : thread_([this, port, user = std::move(user), password = std::move(password)] {
              try {
                  auto client = std::make_unique<http_client>(port, 5s);
                  while (!stop_) {
                      const auto r = client->roundtrip(login_request(user, password));
                      (r.result_int() == 200 ? ok_ : failed_)++;
                      if (header(r, "Connection") == "close") {  // --max-requests-per-connection
                          client = std::make_unique<http_client>(port, 5s);
                      }
                      std::this_thread::sleep_for(2ms);
                  }
              } catch (const std::exception& e) {
                  const std::lock_guard lock(mutex_);
                  error_ = e.what();
              }
          }) {}
    ~steady_load() { finish(); }
    steady_load(const steady_load&) = delete;
    steady_load& operator=(const steady_load&) = delete;

    void finish() {
        stop_ = true;
        if (thread_.joinable()) {
            thread_.join();
        }
    }
    int ok() const { return ok_; }
    int failed() const { return failed_; }
    std::string error() const {
        const std::lock_guard lock(mutex_);
        return error_;
    }

  private:
    std::atomic<bool> stop_{false};
    mutable std::mutex mutex_;
    std::string error_;  // guarded by mutex_
    std::atomic<int> ok_{0};
    std::atomic<int> failed_{0};
    std::thread thread_;
};

TEST_F(PgTest, PostgresRestartUnderLoad) {
    private_cluster cluster;
    const auto [port, token] = start_with_a_cached_user(cluster);
    ASSERT_FALSE(token.empty());

    steady_load load(port, "cached", "c");
    std::this_thread::sleep_for(200ms);
    cluster.stop();
    const int ok_before_outage = load.ok();

    // Uncached: 503 at once, again and again (no pile-up behind a dead server: libpq's
    // connect_timeout is 2 s, so 1 s tells the two apart even on a slow machine).
    for (int i = 0; i < 10; ++i) {
        const auto start = steady::now();
        const auto r = login(port, "cold", "c");
        EXPECT_EQ(status_line(r), "HTTP/1.1 503 Service Unavailable");
        EXPECT_EQ(r.body(), busy_body);
        EXPECT_LT(steady::now() - start, 1s);
        std::this_thread::sleep_for(50ms);
    }
    // Cached logins go on during the outage: 20 more, waited for (at most 10 s), not counted in
    // a time window.
    const auto outage = steady::now();
    while (load.ok() <= ok_before_outage + 20 && steady::now() - outage < 10s) {
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_GT(load.ok(), ok_before_outage + 20) << "cached logins stopped during the outage";

    cluster.start();
    const auto back = steady::now();
    unsigned code = 0;
    while (code != 200 && steady::now() - back < 20s) {
        code = login(port, "cold", "c").result_int();
        if (code != 200) {
            std::this_thread::sleep_for(50ms);
        }
    }
    EXPECT_EQ(code, 200) << "authd did not serve normally within 20 s";
    RecordProperty(
        "served_again_after_ms",
        static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - back).count()));
    std::this_thread::sleep_for(2500ms);  // past the feed's reconnection and cache drop
    load.finish();
    EXPECT_EQ(load.error(), "");
    EXPECT_EQ(load.failed(), 0) << "a cached user was refused (" << load.ok() << " logins ok)";
    EXPECT_EQ(login(port, "cached", "c").result_int(), 200);
    EXPECT_FALSE(nodes_.front()->exited());
}

// --- failover, and a server that hangs ---------------------------------------------------------

// docs/operations.md, "Failover": two nodes on a multi-host URI with target_session_attrs=
// read-write, over a primary and its synchronous hot standby, made here (pg_basebackup -R). The
// primary is cut off at once (an immediate shutdown, as a power cut) and the standby promoted.
// The promoted server keeps the primary's synchronous_standby_names, so its writes wait for a
// standby it does not have: every answer still comes within the store's bounds. Once the setting
// is reset (the runbook's step), both nodes serve, everything acknowledged before the cut holds (a
// logout, a password change, a new user), and a change made after reaches both within a second.
TEST_F(PgTest, FailoverToASynchronousStandbyLosesNothingAcknowledged) {
    private_cluster primary;
    for (const char* sql :
         {"ALTER SYSTEM SET synchronous_commit = 'on'",
          "ALTER SYSTEM SET synchronous_standby_names = 'standby'", "SELECT pg_reload_conf()"}) {
        psql(primary.admin_uri(), sql);
    }
    private_cluster standby(standby_of{primary});
    const auto synchronous = [&] {
        return psql_value(primary.admin_uri(),
                          "SELECT sync_state FROM pg_stat_replication "
                          "WHERE application_name = 'standby'") == "sync";
    };
    for (int i = 0; i < 100 && !synchronous(); ++i) {
        std::this_thread::sleep_for(100ms);
    }
    ASSERT_TRUE(synchronous()) << "the standby does not replicate synchronously";
    store_ = "postgresql://authd@127.0.0.1:" + primary.port() + ",127.0.0.1:" + standby.port() +
             "/authd_test?target_session_attrs=read-write";
    add_user("alice", "a");
    add_user("bob", "b");
    const auto first = start_node();
    const auto second = start_node();
    const auto token = token_of(login(first, "alice", "a").body());
    ASSERT_TRUE(token);
    http_client client(first);
    ASSERT_EQ(client.roundtrip(make_request("POST", "/logout", {"Authorization: Bearer " + *token}))
                  .result_int(),
              200);
    ASSERT_EQ(authctl({"user", "passwd", "bob"}, "b2\n").exit_code, 0);
    add_user("carol", "c");

    primary.crash();
    standby.promote();
    std::string meanwhile;  // what the nodes answered before the reset, and how fast
    for (const auto port : {first, second}) {
        const auto start = steady::now();
        const auto r = login(port, "carol", "c");
        const auto took = steady::now() - start;
        EXPECT_TRUE(r.result_int() == 200 || r.result_int() == 503) << r.body();
        EXPECT_LT(took, 8s) << "an answer waited on the promoted server";
        meanwhile +=
            std::to_string(r.result_int()) + " in " +
            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()) +
            " ms; ";
    }
    RecordProperty("answers_before_the_reset", meanwhile);

    psql(standby.admin_uri(), "ALTER SYSTEM RESET synchronous_standby_names");
    psql(standby.admin_uri(), "SELECT pg_reload_conf()");
    const auto reset = steady::now();
    for (const auto port : {first, second}) {
        unsigned code = 0;
        while (code != 200 && steady::now() - reset < 20s) {
            code = login(port, "carol", "c").result_int();
            if (code != 200) {
                std::this_thread::sleep_for(50ms);
            }
        }
        EXPECT_EQ(code, 200) << "node " << port << " did not serve within 20 s";
    }
    RecordProperty(
        "both_served_after_ms",
        static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - reset).count()));
    for (const auto port : {first, second}) {
        SCOPED_TRACE(port);
        EXPECT_EQ(verify(port, *token), 401U) << "a logout acknowledged before was lost";
        EXPECT_EQ(login(port, "bob", "b").result_int(), 404) << "a password change was lost";
        EXPECT_EQ(login(port, "bob", "b2").result_int(), 200);
    }
    ASSERT_EQ(authctl({"user", "passwd", "alice"}, "a2\n").exit_code, 0);
    const auto changed = steady::now();
    for (const auto port : {first, second}) {
        EXPECT_TRUE(time_until_refused(port, "alice", "a", 1s, changed))
            << "a change on the new primary did not reach node " << port << " within 1 s";
    }
}

// While the store does not answer at all: a burst of eight logins at once, half of them of an
// uncached user, is answered (200 or 503) within 10 s, none held past the store's bounds (3 s a
// statement, 2 s a connection attempt); then, one at a time, the uncached user gets 503 and the
// cached one 200 (counted locally), each within 2 s, and token verifies.
void expect_bounded_answers_while_the_store_is_silent(std::uint16_t port,
                                                      const std::string& token) {
    struct answer {
        unsigned code = 0;
        std::chrono::milliseconds took{0};
    };
    std::vector<answer> burst(8);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < burst.size(); ++i) {
        threads.emplace_back([&, i] {
            const auto start = steady::now();
            burst[i].code = login(port, i % 2 == 0 ? "cold" : "cached", "c").result_int();
            burst[i].took =
                std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start);
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    for (const auto& a : burst) {
        EXPECT_TRUE(a.code == 200 || a.code == 503) << a.code;
        EXPECT_LT(a.took, 10s) << "an answer waited on the silent server";
    }
    for (int i = 0; i < 3; ++i) {
        auto start = steady::now();
        const auto cold = login(port, "cold", "c");
        EXPECT_EQ(status_line(cold), "HTTP/1.1 503 Service Unavailable");
        EXPECT_EQ(cold.body(), busy_body);
        EXPECT_LT(steady::now() - start, 2s);
        start = steady::now();
        EXPECT_EQ(login(port, "cached", "c").result_int(), 200);
        EXPECT_LT(steady::now() - start, 2s);
        EXPECT_EQ(verify(port, token), 200U);
    }
}

// Logins of user until one is a 200 (at most 20 s): how long that took, or nullopt.
std::optional<std::chrono::milliseconds> time_until_served(std::uint16_t port,
                                                           const std::string& user) {
    const auto since = steady::now();
    while (steady::now() - since < 20s) {
        if (login(port, user, "c").result_int() == 200) {
            return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - since);
        }
        std::this_thread::sleep_for(50ms);
    }
    return std::nullopt;
}

// A PostgreSQL that stops answering with its connections open (every process of the cluster
// stopped: a hung host): every answer within the store's bounds; once the server answers again,
// authd serves as before, without a restart.
TEST_F(PgTest, APostgresqlThatStopsAnsweringHoldsNoAnswerPastItsBounds) {
    private_cluster cluster;
    const auto [port, token] = start_with_a_cached_user(cluster);
    ASSERT_FALSE(token.empty());
    const auto pids = cluster.processes();
    ASSERT_GT(pids.size(), 1U);
    struct resume_at_end {
        const std::vector<pid_t>& pids;
        ~resume_at_end() {
            for (const auto pid : pids) {
                ::kill(pid, SIGCONT);
            }
        }
    };
    {
        const resume_at_end resume{pids};
        for (const auto pid : pids) {
            ASSERT_EQ(::kill(pid, SIGSTOP), 0);
        }
        expect_bounded_answers_while_the_store_is_silent(port, token);
    }
    const auto served = time_until_served(port, "cold");
    ASSERT_TRUE(served) << "authd did not serve an uncached user within 20 s";
    RecordProperty("served_again_after_ms", static_cast<int>(served->count()));
    EXPECT_FALSE(nodes_.front()->exited());
}

// A network between authd and PostgreSQL that drops every packet, silently (a link to a network
// namespace the test makes, in which the cluster runs, set down at the far end): unlike a stopped
// server, nothing is even acknowledged, so the connections authd holds fail by its TCP bounds
// (tcp_user_timeout, keepalives) besides a statement's. No answer is held past the store's bounds;
// once the link is mended, authd serves as before.
TEST_F(PgTest, ANetworkThatDropsEveryPacketHoldsNoAnswerPastItsBounds) {
    std::optional<netns_link> link;
    try {
        link.emplace();
    } catch (const std::exception& e) {
        GTEST_SKIP() << "no network namespace can be made here: " << e.what();
    }
    private_cluster cluster(in_netns{*link});
    const auto [port, token] = start_with_a_cached_user(cluster);
    ASSERT_FALSE(token.empty());
    link->cut();
    // Silent: a connection attempt to the server is neither accepted nor refused.
    const int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(probe, 0);
    sockaddr_in server{};
    server.sin_family = AF_INET;
    server.sin_port = htons(static_cast<std::uint16_t>(std::stoi(cluster.port())));
    ASSERT_EQ(::inet_pton(AF_INET, link->inner_address().c_str(), &server.sin_addr), 1);
    ASSERT_EQ(::connect(probe, reinterpret_cast<const sockaddr*>(&server), sizeof server), -1);
    ASSERT_EQ(errno, EINPROGRESS);
    pollfd wait_for{probe, POLLOUT, 0};
    EXPECT_EQ(::poll(&wait_for, 1, 1000), 0) << "the cut link answered";
    ::close(probe);
    expect_bounded_answers_while_the_store_is_silent(port, token);
    std::this_thread::sleep_for(6s);  // past tcp_user_timeout: the held connections are dead now
    expect_bounded_answers_while_the_store_is_silent(port, token);
    link->mend();
    const auto served = time_until_served(port, "cold");
    ASSERT_TRUE(served) << "authd did not serve an uncached user within 20 s of the repair";
    RecordProperty("served_again_after_ms", static_cast<int>(served->count()));
    EXPECT_FALSE(nodes_.front()->exited());
}

// --- nginx in front of two nodes ---------------------------------------------------------------

// docs/nginx-authd.conf as it is, but for its upstream servers (the test's nodes) and its listen
// address (a free port).
std::string nginx_site(const std::vector<std::uint16_t>& nodes, std::uint16_t port) {
    auto site = read_file(tests_dir() + "/../docs/nginx-authd.conf");
    std::string servers;
    for (const auto node : nodes) {
        servers +=
            "    server 127.0.0.1:" + std::to_string(node) + " max_fails=1 fail_timeout=2s;\n";
    }
    const std::regex server_line(R"(\n[ \t]*server [0-9.]+:[0-9]+[^;]*;)");
    std::smatch first;
    if (!std::regex_search(site, first, server_line)) {
        throw std::runtime_error("docs/nginx-authd.conf: no upstream server line");
    }
    const auto at = static_cast<std::size_t>(first.position(0));
    site =
        site.substr(0, at) + "\n@SERVERS@" + std::regex_replace(site.substr(at), server_line, "");
    site.replace(site.find("@SERVERS@"), 9, servers.substr(0, servers.size() - 1));
    const std::regex listen_line(R"(listen 80\b[^;]*;)");
    if (!std::regex_search(site, listen_line)) {
        throw std::runtime_error("docs/nginx-authd.conf: no 'listen 80' line");
    }
    return std::regex_replace(site, listen_line, "listen 127.0.0.1:" + std::to_string(port) + ";");
}

TEST_F(PgTest, TwoNodesBehindNginx) {
    if (!have_nginx()) {
        GTEST_SKIP() << "nginx is not installed (scripts/install-deps.sh installs nginx-light)";
    }
    add_user("user_test", "password_test");
    const auto first = start_node();
    const auto second = start_node();
    const auto port = free_port();
    nginx_process nginx(nginx_site({first, second}, port), port);
    ASSERT_TRUE(nginx.wait_ready()) << nginx.error_log();

    for (int i = 0; i < 6; ++i) {
        const auto r = login(port, "user_test", "password_test");
        EXPECT_EQ(r.result_int(), 200) << r.body();
        EXPECT_TRUE(token_of(r.body())) << r.body();
    }
    // authd's own answers pass through unchanged.
    EXPECT_EQ(login(port, "user_test", "wrong").body(), not_found_body);
    http_client client(port);
    EXPECT_EQ(client.roundtrip(make_request("GET", "/elsewhere", {})).body(),
              error_body(404, "Path not found."));

    // Past the per-address rate (10/s, bursts of 20): refused by nginx, in authd's shape.
    int refused = 0;
    for (int i = 0; i < 40 && refused == 0; ++i) {
        const auto r = client.roundtrip(make_request("GET", "/login", {"User-Name: user_test"}));
        if (r.result_int() == 429) {
            ++refused;
            EXPECT_EQ(r.body(), error_body(429, "Too many attempts. Retry in 1 s."));
            EXPECT_EQ(header(r, "Content-Type"), "application/json");
            EXPECT_EQ(header(r, "Retry-After"), "1");
        }
    }
    EXPECT_EQ(refused, 1);
    std::this_thread::sleep_for(1s);  // the burst allowance comes back at 10 a second

    // A node gone: nginx sends its logins to the other one.
    EXPECT_EQ(nodes_.front()->terminate(15s), 0);
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(login(port, "user_test", "password_test").result_int(), 200) << nginx.error_log();
    }
}

}  // namespace
}  // namespace authd_it
