// A hash helper that stops answering (SIGSTOP here; a hung or starved process in production):
// the login it holds is answered 503 at --hash-call-timeout and the helper is replaced, and the
// logins queued behind it are answered 503 at --hash-queue-timeout, not when a worker frees up.

#include <chrono>
#include <csignal>
#include <cstdint>
#include <poll.h>
#include <string>
#include <string_view>
#include <thread>

#include "harness.hpp"

namespace authd_it {
namespace {

// Whether the server has sent anything on client's connection yet (without waiting).
bool answered(http_client& client) {
    pollfd p{client.fd(), POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
}

// Waits (up to 10 s) for the gauge NAME in /metrics to read value.
bool wait_gauge(std::uint16_t port, std::string_view name, long value) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (metric_value(port, name) != value) {
        if (std::chrono::steady_clock::now() > until) {
            return false;
        }
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

void expect_token(const response& r) {
    EXPECT_EQ(r.result_int(), 200) << r.body();
    EXPECT_TRUE(token_of(r.body())) << r.body();
}

class HungHelperTest : public authd_test {};

TEST_F(HungHelperTest, AStoppedHelperCostsItsLoginA503AndTheQueueKeepsItsDeadline) {
    env_.add_user("user_test", "password_test");
    auto args = authd_args{}.workers("1").with({"--hash-call-timeout", "4s"});
    args.hash_queue_timeout = "1s";
    start(args);
    {
        http_client warm(port());
        expect_token(warm.roundtrip(login_request("user_test", "password_test")));
    }
    const auto helpers = wait_children(server().pid(), 1);
    ASSERT_EQ(helpers.size(), 1U);
    const pid_t stopped = helpers[0];
    ASSERT_EQ(::kill(stopped, SIGSTOP), 0);

    // A: taken by the only worker, whose helper does not answer.
    http_client held(port(), 60s);
    held.send(login_request("user_test", "password_test"));
    ASSERT_TRUE(wait_gauge(port(), "authd_hash_workers_busy", 1));
    // B: queued behind it, and answered at its queue deadline while A is still held.
    http_client queued(port());
    const auto b = queued.roundtrip(login_request("user_test", "password_test"));
    EXPECT_EQ(b.result_int(), 503) << b.body();
    EXPECT_EQ(header(b, "Retry-After"), "1");
    EXPECT_FALSE(answered(held)) << "the held login was answered before the queued one";
    // A: 503 once the call bound passes, the stopped helper killed and a new one started.
    const auto a = held.read_response();
    EXPECT_EQ(a.result_int(), 503) << a.body();
    EXPECT_EQ(header(a, "Retry-After"), "1");
    EXPECT_TRUE(process_gone(stopped, 10s)) << "the stopped helper was left behind";
    EXPECT_TRUE(server().wait_for_stderr("\"hash_helper_overran\"", 10s)) << server().stderr_text();
    // Neither 503 counted as a failure, and the next login verifies in a new helper.
    http_client after(port());
    expect_token(after.roundtrip(login_request("user_test", "password_test")));
    const auto now = wait_children(server().pid(), 1);
    ASSERT_EQ(now.size(), 1U);
    EXPECT_NE(now[0], stopped);
}

}  // namespace
}  // namespace authd_it
