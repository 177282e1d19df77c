// A connection's life (server/net/connection.hpp), in this process: an io_thread on a loopback
// port of its own, the real request handler over an in-memory store, and a fake executor that
// holds each job until the test lets it run, or refuses it. So what the connection does while a
// job is out, after it, when idle, parked, drained or over a limit is seen byte for byte, without
// an authd process, a hash or a clock of the test's beyond the deadlines it sets.
#include <arpa/inet.h>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include "authd/crypto/keyring.hpp"
#include "authd/crypto/keyring_holder.hpp"
#include "authd/login/login_service.hpp"
#include "authd/login/revocation_list.hpp"
#include "authd/login/user_cache.hpp"

#include "base/log.hpp"
#include "net/io_thread.hpp"
#include "support/memory_store.hpp"
#include "support/test_key.hpp"

namespace authd::server {
namespace {

using namespace std::chrono_literals;

// Holds every job it is given until release() (or refuses them all when refusing is set).
class held_executor final : public job_executor {
  public:
    bool refusing = false;

    void submit(std::uint64_t /*client*/, std::unique_ptr<blocking_job> job,
                const boost::asio::io_context::executor_type& io, job_completion done) override {
        const std::lock_guard lock(mutex_);
        held_.push_back({std::move(job), io, std::move(done)});
        if (refusing) {
            finish(held_.back(), false);
            held_.pop_back();
        }
        changed_.notify_all();
    }
    bool has_room() const override { return true; }

    // Waits until n jobs are held.
    bool wait_held(std::size_t n, std::chrono::milliseconds within = 5s) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, within, [&] { return held_.size() >= n; });
    }
    // Runs the oldest held job here, and hands it back to its connection.
    void release() {
        const std::lock_guard lock(mutex_);
        auto& h = held_.front();
        h.job->run(hashes_in_this_thread());
        finish(h, true);
        held_.pop_front();
    }
    std::size_t held() {
        const std::lock_guard lock(mutex_);
        return held_.size();
    }

  private:
    struct holding {
        std::unique_ptr<blocking_job> job;
        boost::asio::io_context::executor_type io;
        job_completion done;
    };
    static void finish(holding& h, bool ran) {
        boost::asio::post(h.io, [done = std::move(h.done), job = std::move(h.job), ran]() mutable {
            std::move(done)(std::move(job), ran);
        });
    }

    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<holding> held_;
};

// A client socket to the thread's port: sends, and reads with a deadline.
class client {
  public:
    explicit client(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        const int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
            throw std::runtime_error("connect failed");
        }
    }
    ~client() { ::close(fd_); }
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    void send(const std::string& data) const {
        ASSERT_EQ(::send(fd_, data.data(), data.size(), MSG_NOSIGNAL),
                  static_cast<ssize_t>(data.size()));
    }
    // Everything that arrives within `within` (stops early at end of stream); closed() says
    // whether the stream ended.
    std::string read_for(std::chrono::milliseconds within) {
        std::string out;
        const auto until = std::chrono::steady_clock::now() + within;
        while (!closed_) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                until - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                break;
            }
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
                break;
            }
            char buf[4096];
            const auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) {
                closed_ = true;
                break;
            }
            out.append(buf, static_cast<std::size_t>(n));
        }
        return out;
    }
    // Reads until the text holds `count` responses' heads and bodies (by Content-Length).
    std::string read_responses(std::size_t count, std::chrono::milliseconds within = 5s) {
        std::string out;
        const auto until = std::chrono::steady_clock::now() + within;
        while (responses_in(out) < count && std::chrono::steady_clock::now() < until && !closed_) {
            out += read_for(50ms);
        }
        return out;
    }
    bool closed() const noexcept { return closed_; }

    static std::size_t responses_in(const std::string& text) {
        std::size_t n = 0;
        std::size_t at = 0;
        for (;;) {
            const auto head_end = text.find("\r\n\r\n", at);
            if (head_end == std::string::npos) {
                return n;
            }
            const auto length_at = text.find("Content-Length: ", at);
            std::size_t length = 0;
            if (length_at != std::string::npos && length_at < head_end) {
                length = std::stoul(text.substr(length_at + 16));
            }
            if (text.size() < head_end + 4 + length) {
                return n;
            }
            at = head_end + 4 + length;
            ++n;
        }
    }

  private:
    int fd_;
    bool closed_ = false;
};

const std::string login =
    "GET /login HTTP/1.1\r\nHost: x\r\nUser-Name: user_test\r\nPassword: password_test\r\n\r\n";
const std::string healthz = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

class Connection : public ::testing::Test {
  protected:
    void start(connection_options opts = {}) {
        set_log_level(log_level::warn);  // the audit and request lines say nothing here
        options_ = opts;
        store_.hashes["user_test"] = hasher_.hash("password_test");
        shared_.emplace(shared_state{options_,
                                     executor_,
                                     {service_, keys_, revocations_},
                                     [] { return std::string("authd_up 1\n"); },
                                     per_address_,
                                     100,
                                     nullptr});
        thread_.emplace(
            *shared_, metrics_,
            boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
        port_ = thread_->local_endpoint().port();
        runner_ = std::thread([this] { thread_->run(); });
    }

    void TearDown() override {
        if (thread_) {
            while (executor_.held() > 0) {
                executor_.release();
            }
            thread_->drain();
            runner_.join();
        }
    }

    connection_options options_;
    held_executor executor_;
    password_hasher hasher_{argon2_params{1, 8 * 1024}};
    keyring_holder keys_{keyring::from_secret(authd_test_support::fixed_test_key())};
    authd_test_support::memory_store store_;
    std::unique_ptr<user_cache> cache_ = make_user_cache(16);
    login_service service_{store_, *cache_, hasher_, keys_, std::chrono::minutes(30)};
    revocation_list revocations_{1000};
    address_connections per_address_{1000};
    thread_metrics metrics_;
    std::optional<shared_state> shared_;
    std::optional<io_thread> thread_;
    std::thread runner_;
    std::uint16_t port_ = 0;
};

// While a login's job is out, nothing is written: the request pipelined behind it waits, and both
// answers come in order once the job is back.
TEST_F(Connection, APipelinedRequestWaitsForTheLoginBeforeIt) {
    start();
    client c(port_);
    c.send(login + healthz);
    ASSERT_TRUE(executor_.wait_held(1));
    EXPECT_EQ(c.read_for(200ms), "") << "an answer went out while the login's job was held";
    EXPECT_EQ(executor_.held(), 1U) << "the second request is no job";
    executor_.release();
    const auto answers = c.read_responses(2);
    const auto token_at = answers.find(R"("token":")");
    const auto health_at = answers.find(R"({"code":200,"status":"ok"})");
    ASSERT_NE(token_at, std::string::npos) << answers;
    ASSERT_NE(health_at, std::string::npos) << answers;
    EXPECT_LT(token_at, health_at) << "answered out of order: " << answers;
    EXPECT_FALSE(c.closed());
}

// A job the executor refuses (its queue is full) is answered 503 with Retry-After: 1, and the
// connection serves the next request.
TEST_F(Connection, ARefusedJobIsA503AndTheConnectionGoesOn) {
    executor_.refusing = true;
    start();
    client c(port_);
    c.send(login);
    const auto refused = c.read_responses(1);
    EXPECT_NE(refused.find("HTTP/1.1 503 "), std::string::npos) << refused;
    EXPECT_NE(refused.find("Retry-After: 1\r\n"), std::string::npos) << refused;
    c.send(healthz);
    const auto next = c.read_responses(1);
    EXPECT_NE(next.find("HTTP/1.1 200 "), std::string::npos) << next;
}

// A drain while a job is out lets the request finish: its answer says Connection: close, then the
// connection closes, and the thread ends once it has.
TEST_F(Connection, ADrainFinishesTheRequestInProgressThenCloses) {
    start();
    client c(port_);
    c.send(login);
    ASSERT_TRUE(executor_.wait_held(1));
    thread_->drain();
    std::this_thread::sleep_for(50ms);
    executor_.release();
    const auto answer = c.read_responses(1);
    EXPECT_NE(answer.find(R"("token":")"), std::string::npos) << answer;
    EXPECT_NE(answer.find("Connection: close\r\n"), std::string::npos) << answer;
    c.read_for(2s);
    EXPECT_TRUE(c.closed());
    runner_.join();  // the thread ended by itself
    thread_.reset();
}

// Between requests the idle deadline applies: past it the connection is closed (the sweeper
// checks four times a second, so up to 250 ms late).
TEST_F(Connection, AnIdleConnectionIsClosedAtItsDeadline) {
    connection_options opts;
    opts.idle_timeout = 400ms;
    start(opts);
    client c(port_);
    c.send(healthz);
    ASSERT_EQ(client::responses_in(c.read_responses(1)), 1U);
    c.read_for(3s);
    EXPECT_TRUE(c.closed()) << "still open well past the idle deadline";
}

// Idle, a connection is parked (no coroutine, no buffers): the gauge says so; a request wakes it
// and is answered as before.
TEST_F(Connection, AnIdleConnectionIsParkedAndWakesForTheNextRequest) {
    start();
    client c(port_);
    c.send(healthz);
    ASSERT_EQ(client::responses_in(c.read_responses(1)), 1U);
    bool parked = false;
    for (int i = 0; i < 40 && !parked; ++i) {
        std::this_thread::sleep_for(50ms);
        parked = metrics_.connections_parked.load() == 1;
    }
    ASSERT_TRUE(parked) << "never parked";
    c.send(login);
    ASSERT_TRUE(executor_.wait_held(1));
    executor_.release();
    const auto answer = c.read_responses(1);
    EXPECT_NE(answer.find(R"("token":")"), std::string::npos) << answer;
    EXPECT_EQ(metrics_.connections_parked.load(), 0);
}

TEST_F(Connection, AHeadOverTheLimitIs431ThenClosed) {
    start();
    client c(port_);
    c.send("GET /login HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(9000, 'a') + "\r\n\r\n");
    const auto answer = c.read_responses(1);
    EXPECT_NE(answer.find("HTTP/1.1 431 "), std::string::npos) << answer.substr(0, 200);
    c.read_for(2s);
    EXPECT_TRUE(c.closed());
    EXPECT_EQ(executor_.held(), 0U);
}

TEST_F(Connection, TheLastRequestAllowedOnAConnectionClosesIt) {
    connection_options opts;
    opts.max_requests_per_connection = 2;
    start(opts);
    client c(port_);
    c.send(healthz + healthz);
    const auto answers = c.read_responses(2);
    ASSERT_EQ(client::responses_in(answers), 2U) << answers;
    EXPECT_EQ(answers.find("Connection: close"), answers.rfind("Connection: close"))
        << "only the second says close: " << answers;
    EXPECT_NE(answers.find("Connection: close"), std::string::npos) << answers;
    c.read_for(2s);
    EXPECT_TRUE(c.closed());
}

}  // namespace
}  // namespace authd::server
