// The worker pool (server/workers/worker_pool.hpp) with fake jobs: no socket, no store, no hash.
// A job records which worker ran it and may hold its worker until the test lets it go; the
// completions run on an io_context of the test's, as on a connection's I/O thread.
#include "workers/worker_pool.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

namespace authd::server {
namespace {

using namespace std::chrono_literals;

// What the fake jobs share: the order they ran in, and a gate that holds them while closed.
struct job_log {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<std::string> ran;
    bool gate_open = true;
    int running = 0;

    void record(const std::string& name) {
        std::unique_lock lock(mutex);
        ++running;
        ran.push_back(name);
        changed.notify_all();
        changed.wait(lock, [this] { return gate_open; });
        --running;
    }
    void set_gate(bool open) {
        const std::lock_guard lock(mutex);
        gate_open = open;
        changed.notify_all();
    }
    bool wait_running(int n, std::chrono::milliseconds within = 5s) {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, within, [&] { return running >= n; });
    }
};

class fake_job final : public blocking_job {
  public:
    fake_job(job_log& log, std::string name) : log_(log), name_(std::move(name)) {}
    void run(hash_runner& /*runner*/) noexcept override { log_.record(name_); }
    response answer(bool ran) override {
        return ran ? json_response(api_code::ok, name_) : canned_response(api_code::busy, 1);
    }
    const std::string& name() const { return name_; }

  private:
    job_log& log_;
    std::string name_;
};

// The fake jobs hash nothing; a worker still makes its runner, which hashes in its thread.
class in_this_thread final : public hash_runner {
  public:
    bool verify(const std::string& phc, std::string_view password) override {
        return verify_password_here(phc, password);
    }
    std::optional<std::string> hash(std::string_view password,
                                    const argon2_params& params) override {
        return hash_password_here(password, params);
    }
};

// A pool over fake jobs, and an io_context (run on a thread of the test's) its completions go to.
class WorkerPool : public ::testing::Test {
  protected:
    struct outcome {
        std::string name;
        bool ran;
    };

    void start(worker_pool::options opts, std::function<void()> upkeep = {}) {
        opts.make_runner = [] { return std::make_unique<in_this_thread>(); };
        pool_.emplace(opts, std::move(upkeep));
    }

    void submit(std::uint64_t client, const std::string& name) {
        pool_->submit(client, std::make_unique<fake_job>(log_, name), io_.get_executor(),
                      [this](std::unique_ptr<blocking_job> job, bool ran) {
                          const std::lock_guard lock(done_mutex_);
                          done_.push_back({static_cast<fake_job&>(*job).name(), ran});
                          done_changed_.notify_all();
                      });
    }

    // Runs the io_context until n completions came (false when they did not within 5 s).
    bool wait_done(std::size_t n) {
        const auto until = std::chrono::steady_clock::now() + 5s;
        while (std::chrono::steady_clock::now() < until) {
            io_.restart();
            io_.run_for(20ms);
            const std::lock_guard lock(done_mutex_);
            if (done_.size() >= n) {
                return true;
            }
        }
        return false;
    }

    std::vector<outcome> done() {
        const std::lock_guard lock(done_mutex_);
        return done_;
    }

    void TearDown() override {
        log_.set_gate(true);
        if (pool_) {
            pool_->stop();
        }
        io_.restart();
        io_.run_for(50ms);  // the completions of what stop() gave back
    }

    job_log log_;
    boost::asio::io_context io_;
    std::optional<worker_pool> pool_;
    std::mutex done_mutex_;
    std::condition_variable done_changed_;
    std::vector<outcome> done_;
};

TEST_F(WorkerPool, AJobRunsOnAWorkerAndComesBackToItsIoContext) {
    start({});
    const auto test_thread = std::this_thread::get_id();
    std::thread::id completed_on;
    pool_->submit(1, std::make_unique<fake_job>(log_, "a"), io_.get_executor(),
                  [&](std::unique_ptr<blocking_job> job, bool ran) {
                      completed_on = std::this_thread::get_id();
                      EXPECT_TRUE(ran);
                      EXPECT_EQ(job->answer(ran).body, "a");
                      const std::lock_guard lock(done_mutex_);
                      done_.push_back({"a", ran});
                  });
    ASSERT_TRUE(wait_done(1));
    EXPECT_EQ(completed_on, test_thread) << "the completion runs where the io_context runs";
    EXPECT_EQ(log_.ran, std::vector<std::string>{"a"});
}

// One client flooding the pool lengthens its own queue only: the workers take the clients in
// turn, so another client's job runs after at most one of the flood's per turn.
TEST_F(WorkerPool, ClientsAreServedInTurnNotInArrivalOrder) {
    worker_pool::options opts;
    opts.workers = 1;
    start(opts);
    log_.set_gate(false);
    submit(1, "flood-0");
    ASSERT_TRUE(log_.wait_running(1));  // the worker holds flood-0
    for (int i = 1; i <= 4; ++i) {
        submit(1, "flood-" + std::to_string(i));
    }
    submit(2, "other");
    log_.set_gate(true);
    ASSERT_TRUE(wait_done(6));
    const std::vector<std::string> order{"flood-0", "flood-1", "other",
                                         "flood-2", "flood-3", "flood-4"};
    EXPECT_EQ(log_.ran, order);
}

TEST_F(WorkerPool, AFullQueueGivesTheJobBackUnrunAtOnce) {
    worker_pool::options opts;
    opts.workers = 1;
    opts.queue_capacity = 2;
    opts.per_client_capacity = 2;
    start(opts);
    log_.set_gate(false);
    submit(1, "held");
    ASSERT_TRUE(log_.wait_running(1));
    submit(2, "q1");
    submit(3, "q2");
    submit(4, "over");  // the queue holds two
    ASSERT_TRUE(wait_done(1));
    EXPECT_EQ(done().front().name, "over");
    EXPECT_FALSE(done().front().ran);
    EXPECT_FALSE(pool_->has_room());
    log_.set_gate(true);
    ASSERT_TRUE(wait_done(4));
    EXPECT_TRUE(pool_->has_room());
}

// /readyz says "no room" from nine tenths of the queue on, before it is full: a balancer then
// sends logins elsewhere while this node still takes what is already on its way.
TEST_F(WorkerPool, TheQueueHasRoomBelowNineTenthsOfItsCapacity) {
    worker_pool::options opts;
    opts.workers = 1;
    opts.queue_capacity = 20;
    opts.per_client_capacity = 20;
    start(opts);
    log_.set_gate(false);
    submit(1, "held");
    ASSERT_TRUE(log_.wait_running(1));
    for (int i = 0; i < 17; ++i) {
        submit(2 + static_cast<std::uint64_t>(i), "q" + std::to_string(i));
    }
    EXPECT_EQ(pool_->queue_depth(), 17U);
    EXPECT_TRUE(pool_->has_room()) << "17 of 20";
    submit(30, "eighteenth");
    EXPECT_EQ(pool_->queue_depth(), 18U);
    EXPECT_FALSE(pool_->has_room()) << "18 of 20";
    log_.set_gate(true);
    ASSERT_TRUE(wait_done(19));
    EXPECT_TRUE(pool_->has_room());
}

TEST_F(WorkerPool, OneClientCannotTakeMoreThanItsShareOfTheQueue) {
    worker_pool::options opts;
    opts.workers = 1;
    opts.queue_capacity = 10;
    opts.per_client_capacity = 2;
    start(opts);
    log_.set_gate(false);
    submit(9, "held");
    ASSERT_TRUE(log_.wait_running(1));
    submit(1, "a1");
    submit(1, "a2");
    submit(1, "a3");  // past its share
    submit(2, "b1");  // another client still gets in
    ASSERT_TRUE(wait_done(1));
    EXPECT_EQ(done().front().name, "a3");
    EXPECT_FALSE(done().front().ran);
    log_.set_gate(true);
    ASSERT_TRUE(wait_done(5));
    for (const auto& o : done()) {
        EXPECT_EQ(o.ran, o.name != "a3") << o.name;
    }
}

// A job still queued at its deadline is given back unrun (its client has given up by then), and
// costs no work.
TEST_F(WorkerPool, AJobQueuedPastItsDeadlineIsGivenBackUnrun) {
    worker_pool::options opts;
    opts.workers = 1;
    opts.queue_timeout = 100ms;
    start(opts);
    log_.set_gate(false);
    submit(1, "held");
    ASSERT_TRUE(log_.wait_running(1));
    submit(2, "late");
    std::this_thread::sleep_for(300ms);
    log_.set_gate(true);
    ASSERT_TRUE(wait_done(2));
    EXPECT_EQ(log_.ran, std::vector<std::string>{"held"}) << "the late job was run";
    for (const auto& o : done()) {
        EXPECT_EQ(o.ran, o.name == "held") << o.name;
    }
}

// The deadline is kept while every worker is stuck (a hung hash helper): the queued jobs come back
// unrun, the earlier first, while the job in hand still holds the only worker.
TEST_F(WorkerPool, QueuedJobsExpireWhileEveryWorkerIsStuck) {
    worker_pool::options opts;
    opts.workers = 1;
    opts.queue_timeout = 100ms;
    start(opts);
    log_.set_gate(false);
    submit(1, "stuck");
    ASSERT_TRUE(log_.wait_running(1));
    submit(2, "first");
    submit(3, "second");
    submit(2, "third");
    ASSERT_TRUE(wait_done(3)) << "queued jobs waited for the stuck worker";
    const auto early = done();
    ASSERT_EQ(early.size(), 3U);
    EXPECT_EQ(early[0].name, "first");
    for (const auto& o : early) {
        EXPECT_FALSE(o.ran) << o.name;
        EXPECT_NE(o.name, "stuck");
    }
    EXPECT_EQ(pool_->queue_depth(), 0U);
    // The pool still works: the stuck job ends, a new one runs.
    log_.set_gate(true);
    ASSERT_TRUE(wait_done(4));
    submit(4, "after");
    ASSERT_TRUE(wait_done(5));
    EXPECT_TRUE(done().back().ran);
    EXPECT_EQ(log_.ran, (std::vector<std::string>{"stuck", "after"}));
}

TEST_F(WorkerPool, TheUpkeepRunsBeforeQueuedJobsAndOnceHoweverOftenAsked) {
    worker_pool::options opts;
    opts.workers = 1;
    std::atomic<int> upkeeps{0};
    start(opts, [&] {
        ++upkeeps;
        log_.record("upkeep");
    });
    log_.set_gate(false);
    submit(1, "held");
    ASSERT_TRUE(log_.wait_running(1));
    submit(2, "queued");
    pool_->request_upkeep();
    pool_->request_upkeep();  // merged into the pending one
    log_.set_gate(true);
    ASSERT_TRUE(wait_done(2));
    EXPECT_EQ(log_.ran, (std::vector<std::string>{"held", "upkeep", "queued"}));
    EXPECT_EQ(upkeeps.load(), 1);
}

TEST_F(WorkerPool, StopFinishesTheJobInHandAndGivesTheQueuedOnesBack) {
    worker_pool::options opts;
    opts.workers = 1;
    start(opts);
    log_.set_gate(false);
    submit(1, "in-hand");
    ASSERT_TRUE(log_.wait_running(1));
    submit(2, "queued");
    std::thread stopper([this] { pool_->stop(); });
    std::this_thread::sleep_for(50ms);
    log_.set_gate(true);
    stopper.join();
    ASSERT_TRUE(wait_done(2));
    for (const auto& o : done()) {
        EXPECT_EQ(o.ran, o.name == "in-hand") << o.name;
    }
    submit(3, "after");  // a stopped pool refuses at once
    ASSERT_TRUE(wait_done(3));
    EXPECT_FALSE(done().back().ran);
}

TEST_F(WorkerPool, WorkersRunJobsAtOnce) {
    worker_pool::options opts;
    opts.workers = 2;
    start(opts);
    log_.set_gate(false);
    submit(1, "a");
    submit(2, "b");
    EXPECT_TRUE(log_.wait_running(2)) << "two workers, two jobs held at once";
    EXPECT_EQ(pool_->busy_workers(), 2U);
    log_.set_gate(true);
    ASSERT_TRUE(wait_done(2));
}

}  // namespace
}  // namespace authd::server
