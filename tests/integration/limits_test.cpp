// Limits that must hold whatever clients do at once (issue #10, items 1-4): attempts admitted to
// hashing count at once, cheap requests buy no brute-force counter entries, one address cannot
// take every connection, and a client that never reads cannot pin memory. Against the real authd.
#include <arpa/inet.h>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include "harness.hpp"

namespace authd_it {
namespace {

const std::string too_many_prefix = "HTTP/1.1 429 Too Many Requests\r\n";

// Item 1: 40 concurrent wrong passwords for one account (from four addresses, so that no
// per-address queue bound interferes) hash exactly as many as 40 guesses one after the other would:
// the 10 free failures and the first one past them. Before admission counted, all 40 were hashed.
TEST(Limits, ConcurrentGuessesOnOneAccountHashNoMoreThanThePolicyAllows) {
    test_env env;
    env.add_user("alice", "right", costly_hash);
    authd_process authd(authd_args{}
                            .hash(costly_hash)
                            .queue("128")
                            .with({"--hash-queue-per-client", "64", "--account-free-failures", "10",
                                   "--address-free-failures", "0"})
                            .build(env));
    const auto port = authd.wait_listening().value();
    std::vector<std::unique_ptr<client_from>> clients;
    for (int i = 0; i < 40; ++i) {
        clients.push_back(
            std::make_unique<client_from>("127.0.0." + std::to_string(2 + i % 4), port));
    }
    const auto counts = burst(
        clients, [](std::size_t i) { return login_request("alice", "wrong" + std::to_string(i)); });
    EXPECT_EQ(counts.hashed_failures, 11);
    EXPECT_EQ(counts.refused, 29);
    RecordProperty("hashed_of_40_concurrent", counts.hashed_failures);
    // And the right password is refused too now (the account waits), from anywhere.
    const auto r = login_from("127.0.0.9", port, "alice", "right");
    EXPECT_EQ(r.rfind(too_many_prefix, 0), 0U) << r;
    EXPECT_EQ(authd.terminate(), 0);
}

// Item 1, the address budget: 40 concurrent guesses for 40 accounts from one address hash the
// address's 5 free failures and one more, no more.
TEST(Limits, ConcurrentSprayFromOneAddressHashesNoMoreThanItsBudget) {
    test_env env;
    authd_process authd(authd_args{}
                            .hash(costly_hash)
                            .queue("128")
                            .with({"--hash-queue-per-client", "64", "--account-free-failures", "0",
                                   "--address-free-failures", "5"})
                            .build(env));
    const auto port = authd.wait_listening().value();
    std::vector<std::unique_ptr<client_from>> clients;
    for (int i = 0; i < 40; ++i) {
        clients.push_back(std::make_unique<client_from>("127.0.0.2", port));
    }
    const auto counts = burst(
        clients, [](std::size_t i) { return login_request("user" + std::to_string(i), "guess"); });
    EXPECT_EQ(counts.hashed_failures, 6);
    EXPECT_EQ(counts.refused, 34);
    EXPECT_EQ(authd.terminate(), 0);
}

// A success ends its reservation and clears the account: rounds of one right and two wrong
// passwords (2 free failures) are never refused. (The release of an attempt ended without a
// verdict is AttemptLimiter.AbandonedAttemptsNeverAddUpToAWait.)
TEST(Limits, ASuccessfulLoginReleasesItsReservation) {
    test_env env;
    env.add_user("alice", "right");
    authd_process authd(authd_args{}
                            .with({"--account-free-failures", "2", "--address-free-failures", "0"})
                            .build(env));
    const auto port = authd.wait_listening().value();
    for (int round = 0; round < 5; ++round) {
        EXPECT_NE(body_of(login_from("127.0.0.2", port, "alice", "right")).find(R"("code":200)"),
                  std::string::npos);
        EXPECT_EQ(body_of(login_from("127.0.0.2", port, "alice", "wrong")), not_found_body);
        EXPECT_EQ(body_of(login_from("127.0.0.2", port, "alice", "wrong")), not_found_body);
    }
    EXPECT_EQ(authd.terminate(), 0);
}

// Item 2: a victim account with failures past its free ones keeps them while an attacker floods
// the counter tables — with requests refused without hashing (over-long passwords, from many
// addresses and names), then with hashed wrong passwords for many other accounts. The tables are
// small (--attempt-entries 160: 10 per shard), so before the fix the victim's entry was evicted
// and its count washed. The victim's state is read from outside: past its free failures, a
// wrong password is hashed once (after the wait) and the next one is refused at once; with a
// washed count both would be hashed.
TEST(Limits, FloodingTheCounterTablesDoesNotWashAVictimsCount) {
    test_env env;
    env.add_user("victim", "right");
    authd_process authd(authd_args{}
                            .with({"--account-free-failures", "3", "--address-free-failures", "0",
                                   "--attempt-entries", "160", "--account-max-backoff", "1s"})
                            .build(env));
    const auto port = authd.wait_listening().value();
    for (int i = 0; i < 5; ++i) {
        const auto r = login_from("127.0.0.2", port, "victim", "wrong");
        ASSERT_TRUE(body_of(r) == not_found_body || r.rfind(too_many_prefix, 0) == 0) << r;
        std::this_thread::sleep_for(1100ms);  // the wait (1 s at most) passes between guesses
    }
    const std::string long_password(1500, 'p');  // over 1024 bytes: refused without hashing
    for (int i = 0; i < 2000; ++i) {
        client_from c("127.0.0." + std::to_string(10 + i % 200), port);
        const auto r = c.roundtrip(login_request("flood" + std::to_string(i), long_password, true));
        ASSERT_EQ(body_of(r), not_found_body) << r;
    }
    for (int i = 0; i < 400; ++i) {  // hashed, but each under the free failures of its account
        client_from c("127.0.0." + std::to_string(10 + i % 200), port);
        const auto r = c.roundtrip(login_request("other" + std::to_string(i), "guess", true));
        ASSERT_EQ(body_of(r), not_found_body) << r;
    }
    std::this_thread::sleep_for(1100ms);  // the victim's current wait is over
    EXPECT_EQ(body_of(login_from("127.0.0.2", port, "victim", "wrong")), not_found_body);
    const auto second = login_from("127.0.0.2", port, "victim", "wrong");
    EXPECT_EQ(second.rfind(too_many_prefix, 0), 0U) << "the victim's count was washed: " << second;
    EXPECT_EQ(authd.terminate(), 0);
}

// Item 3: one address fills its own share of the connections, not the server's: past
// --max-connections-per-address its new connections are answered 503 and closed, while
// another address is served.
TEST(Limits, OneAddressCannotTakeEveryConnection) {
    test_env env;
    authd_args args;
    args.threads = "2";
    authd_process authd(
        args.with({"--max-connections", "100", "--max-connections-per-address", "10"}).build(env));
    const auto port = authd.wait_listening().value();
    std::vector<std::unique_ptr<client_from>> held;
    for (int i = 0; i < 10; ++i) {
        held.push_back(std::make_unique<client_from>("127.0.0.2", port));
        const auto r = held.back()->roundtrip(make_request("GET", "/healthz", {}));
        EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << r;
    }
    client_from extra("127.0.0.2", port);
    const auto refused = extra.read_response();  // answered without a request
    EXPECT_EQ(refused.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0U) << refused;
    EXPECT_EQ(body_of(refused), error_body(503, "Server busy, retry later."));
    // Its refusals cost it nothing to repeat, and must cost the others nothing either: 200 more
    // from it, each refused at once, do not take the other addresses' connections (a refusal
    // that lingered would count against the cap while it does).
    // (The refused clients keep their ends open, as an attacker's would.)
    std::vector<std::unique_ptr<client_from>> refused_ones;
    for (int i = 0; i < 200; ++i) {
        refused_ones.push_back(std::make_unique<client_from>("127.0.0.2", port));
        const auto r = refused_ones.back()->read_response();
        ASSERT_EQ(r.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0U) << i << ": " << r;
    }
    client_from other("127.0.0.3", port);
    const auto served = other.roundtrip(make_request("GET", "/healthz", {}));
    EXPECT_EQ(served.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << served;
    // A slot is free again once one of the address's connections closes.
    held.pop_back();
    std::optional<std::string> again;
    for (int i = 0; i < 50 && !again; ++i) {
        client_from retry("127.0.0.2", port);
        auto r = retry.roundtrip(make_request("GET", "/healthz", {}));
        if (r.rfind("HTTP/1.1 200 OK\r\n", 0) == 0) {
            again = r;
        } else {
            std::this_thread::sleep_for(100ms);
        }
    }
    EXPECT_TRUE(again.has_value());
    const auto metrics = other.roundtrip(make_request("GET", "/metrics", {}));
    EXPECT_NE(metrics.find("authd_connections_refused_per_address_total "), std::string::npos);
    EXPECT_EQ(authd.terminate(), 0);
}

// Item 3: a connection that never sends a byte is closed at the request deadline counted from
// accept, not kept for the (much longer) idle timeout of a keep-alive connection.
TEST(Limits, AConnectionThatSendsNothingIsClosedAtTheRequestDeadline) {
    test_env env;
    authd_process authd(
        authd_args{}.with({"--request-timeout", "1s", "--idle-timeout", "60s"}).build(env));
    const auto port = authd.wait_listening().value();
    http_client silent(port);
    EXPECT_EQ(silent.wait_close(5s), close_kind::eof);
    // A keep-alive connection after a request still gets the idle timeout.
    http_client kept(port);
    EXPECT_EQ(kept.roundtrip(make_request("GET", "/healthz", {})).result_int(), 200);
    EXPECT_EQ(kept.wait_close(2500ms), close_kind::timeout);
    EXPECT_EQ(authd.terminate(), 0);
}

long rss_kib(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) {
            return std::stol(line.substr(6));
        }
    }
    return -1;
}

// Item 4: 50 clients pipeline GET /metrics without ever reading the answers (a small receive
// buffer, so that the kernel holds little for them). authd stops reading a connection while its
// unsent output is over a small bound, so its memory grows by a bounded amount per connection;
// before the fix it grew by ~280 KiB each.
TEST(Limits, AClientThatNeverReadsCannotPinMemory) {
    if (built_with_sanitizer) {
        // The sanitizers' allocators and shadow memory make RSS grow with what they keep, not with
        // what authd holds (seen under TSan on a loaded machine: 74 KiB per connection where the
        // debug build measures 25). The debug build's run of this test is the one that counts.
        GTEST_SKIP() << "RSS under a sanitizer measures its allocator, not authd";
    }
    test_env env;
    authd_process authd(authd_args{}.with({"--write-timeout", "60s"}).build(env));
    const auto port = authd.wait_listening().value();
    std::string burst;
    for (int i = 0; i < 500; ++i) {
        burst += "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    }
    const auto pipeline_without_reading = [&](int count, std::vector<int>& fds) {
        for (int i = 0; i < count; ++i) {
            const int fd = connect_loopback(port, 4096);
            ::fcntl(fd, F_SETFL, O_NONBLOCK);
            fds.push_back(fd);
        }
        // Each sends what the kernel takes, over a second: authd reads while it answers.
        const auto until = std::chrono::steady_clock::now() + 1500ms;
        std::vector<std::size_t> sent(fds.size(), 0);
        while (std::chrono::steady_clock::now() < until) {
            for (std::size_t i = 0; i < fds.size(); ++i) {
                const auto off = sent[i] % burst.size();
                const auto n = ::send(fds[i], burst.data() + off, burst.size() - off, MSG_NOSIGNAL);
                if (n > 0) {
                    sent[i] += static_cast<std::size_t>(n);
                }
            }
            std::this_thread::sleep_for(20ms);
        }
    };
    // Warm-up: the allocator's arenas and the metrics text reach their steady size first.
    std::vector<int> warm;
    pipeline_without_reading(5, warm);
    for (const int fd : warm) {
        ::close(fd);
    }
    std::this_thread::sleep_for(500ms);
    const auto before = rss_kib(authd.pid());
    std::vector<int> fds;
    pipeline_without_reading(50, fds);
    const auto after = rss_kib(authd.pid());
    ASSERT_GT(before, 0);
    const auto per_connection = (after - before) / 50;
    RecordProperty("rss_growth_kib_per_unread_connection", static_cast<int>(per_connection));
    EXPECT_LT(per_connection, 64) << "RSS " << before << " -> " << after << " KiB";
    for (const int fd : fds) {
        ::close(fd);
    }
    EXPECT_EQ(authd.terminate(), 0);
}

}  // namespace
}  // namespace authd_it
