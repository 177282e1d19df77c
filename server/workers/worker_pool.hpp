// The bounded, fair pool of hash workers: it runs core's blocking jobs (a login, a logout's
// stored revocation: blocking_job.hpp) off the I/O threads, each worker with a hash helper
// process of its own to hash in (hash_helper.hpp), and knows nothing of what a job does. A full
// queue is refused at once, so that the caller answers 503 instead of waiting without bound.
// Concurrent argon2 memory is at most workers x memory cost.
//
// Fair share: each client (address key) has its own queue, and workers take jobs round-robin
// across clients, so a client flooding the pool only lengthens its own queue. A client's queue is
// bounded too, and a job still queued at its deadline is given back unrun at that moment, by a
// thread of the pool's own (its client would give up by then), also while every worker is stuck.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "base/job_executor.hpp"

namespace authd::server {

class worker_pool final : public job_executor {
  public:
    using clock = std::chrono::steady_clock;

    // Where a worker hashes: made by each worker thread for itself when it starts, after its
    // nice value is set (authd: a hash_helper process, which inherits it; tests: a runner of
    // their own).
    using runner_factory = std::function<std::unique_ptr<hash_runner>()>;

    struct options {
        std::size_t workers = 1;
        std::size_t queue_capacity = 64;       // all clients together
        std::size_t per_client_capacity = 16;  // one client (address)
        clock::duration queue_timeout = std::chrono::seconds(3);
        int nice = 0;  // added to each worker's nice value (Linux), so I/O threads win the CPU
        runner_factory make_runner;  // required
    };

    // upkeep: what request_upkeep() has the next free worker run (blocking, never throws).
    worker_pool(const options& opts, std::function<void()> upkeep);
    ~worker_pool() override;  // NOLINT(bugprone-exception-escape): see worker_pool.cpp
    worker_pool(const worker_pool&) = delete;
    worker_pool& operator=(const worker_pool&) = delete;

    void submit(std::uint64_t client, std::unique_ptr<blocking_job> job,
                const boost::asio::io_context::executor_type& io, job_completion done) override;
    bool has_room() const override;

    // Has the next free worker run the upkeep (the store check and the limits' upkeep: store
    // calls block, so never on an I/O thread, and not on the main thread, which must stay free
    // for signals). Before any queued job; requests made while one is pending are merged into it.
    // Thread-safe.
    void request_upkeep();

    // Finishes the jobs in hand, gives the queued ones back unrun, joins the workers. Idempotent.
    void stop();

    std::size_t queue_depth() const;
    std::size_t busy_workers() const;
    std::size_t workers() const noexcept { return threads_.size(); }

  private:
    struct queued {
        std::unique_ptr<blocking_job> job;
        clock::time_point deadline;
        boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work;
        job_completion done;
    };

    // The next job (or, with out left empty, the upkeep), with the lock held. False when
    // stopping.
    bool take(std::unique_lock<std::mutex>& lock, std::optional<queued>& out);
    void run_worker(int nice, const runner_factory& make_runner);
    // Gives back every job queued past its deadline, each when its deadline comes.
    void run_expiry();
    static void complete(queued& q, bool ran);

    const std::size_t capacity_;
    const std::size_t per_client_capacity_;
    const clock::duration queue_timeout_;
    const std::function<void()> upkeep_;
    mutable std::mutex mutex_;
    std::condition_variable ready_;
    std::condition_variable first_queued_;  // the queue was empty and is not: run_expiry() wakes
    std::unordered_map<std::uint64_t, std::deque<queued>> queues_;  // per client, non-empty
    std::deque<std::uint64_t> turns_;  // clients with queued jobs, in round-robin order
    std::size_t queued_ = 0;
    std::size_t busy_ = 0;
    bool stopping_ = false;
    bool upkeep_pending_ = false;
    std::vector<std::thread> threads_;
    std::thread expiry_;
};

}  // namespace authd::server
