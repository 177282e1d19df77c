#include "workers/worker_pool.hpp"

#include <algorithm>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include "base/log.hpp"

namespace authd::server {

namespace asio = boost::asio;

worker_pool::worker_pool(const options& opts, std::function<void()> upkeep)
    : capacity_(opts.queue_capacity),
      per_client_capacity_(opts.per_client_capacity),
      queue_timeout_(opts.queue_timeout),
      upkeep_(std::move(upkeep)) {
    threads_.reserve(opts.workers);
    for (std::size_t i = 0; i < opts.workers; ++i) {
        threads_.emplace_back(
            [this, nice = opts.nice, make = opts.make_runner] { run_worker(nice, make); });
    }
    expiry_ = std::thread([this] { run_expiry(); });
}

// stop() throws only if joining a worker fails (a deadlock or a thread that is not joinable: a
// bug), and ending the process then is what a destructor's exception does anyway.
worker_pool::~worker_pool() {  // NOLINT(bugprone-exception-escape)
    stop();
}

void worker_pool::stop() {
    std::unordered_map<std::uint64_t, std::deque<queued>> dropped;
    {
        const std::lock_guard lock(mutex_);
        stopping_ = true;
        dropped.swap(queues_);
        turns_.clear();
        queued_ = 0;
    }
    ready_.notify_all();
    first_queued_.notify_all();
    for (auto& t : threads_) {
        if (t.joinable()) {
            t.join();
        }
    }
    if (expiry_.joinable()) {
        expiry_.join();
    }
    for (auto& [client, jobs] : dropped) {
        for (auto& q : jobs) {
            complete(q, false);
        }
    }
}

std::size_t worker_pool::queue_depth() const {
    const std::lock_guard lock(mutex_);
    return queued_;
}

bool worker_pool::has_room() const {
    const std::lock_guard lock(mutex_);
    return queued_ * 10 < capacity_ * 9;
}

std::size_t worker_pool::busy_workers() const {
    const std::lock_guard lock(mutex_);
    return busy_;
}

void worker_pool::submit(std::uint64_t client, std::unique_ptr<blocking_job> job,
                         const asio::io_context::executor_type& io, job_completion done) {
    queued q{std::move(job), clock::now() + queue_timeout_, asio::make_work_guard(io),
             std::move(done)};
    {
        const std::lock_guard lock(mutex_);
        if (!stopping_ && queued_ < capacity_) {
            auto& jobs = queues_[client];
            if (jobs.size() < per_client_capacity_) {
                if (jobs.empty()) {
                    turns_.push_back(client);
                }
                jobs.push_back(std::move(q));
                if (++queued_ == 1) {
                    first_queued_.notify_one();
                }
                ready_.notify_one();
                return;
            }
        }
    }
    complete(q, false);  // full: the caller answers 503 at once
}

void worker_pool::request_upkeep() {
    {
        const std::lock_guard lock(mutex_);
        if (stopping_ || upkeep_pending_) {
            return;
        }
        upkeep_pending_ = true;
    }
    ready_.notify_one();
}

// The next job in round-robin order across clients (lock held), the upkeep first. False when
// stopping and empty.
bool worker_pool::take(std::unique_lock<std::mutex>& lock, std::optional<queued>& out) {
    ready_.wait(lock, [this] { return stopping_ || upkeep_pending_ || !turns_.empty(); });
    if (upkeep_pending_ && !stopping_) {
        upkeep_pending_ = false;
        return true;  // out stays empty: the upkeep
    }
    if (turns_.empty()) {
        return false;
    }
    const auto client = turns_.front();
    turns_.pop_front();
    auto it = queues_.find(client);
    out.emplace(std::move(it->second.front()));
    it->second.pop_front();
    --queued_;
    if (it->second.empty()) {
        queues_.erase(it);
    } else {
        turns_.push_back(client);  // its next job waits for every other client's turn
    }
    return true;
}

// Gives the job back to the I/O thread that owns its connection.
void worker_pool::complete(queued& q, bool ran) {
    auto executor = q.work.get_executor();
    asio::post(executor, [done = std::move(q.done), job = std::move(q.job), ran]() mutable {
        std::move(done)(std::move(job), ran);
    });
    q.work.reset();
}

// Every job has the same timeout, so a client's queue is in deadline order: the earliest deadline
// is at the front of one of the queues. This thread sleeps until it, gives back what has expired,
// and sleeps again; with nothing queued, until something is. A worker that takes a job past its
// deadline (between two wakes) gives it back unrun too.
void worker_pool::run_expiry() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        auto next = clock::time_point::max();
        for (const auto& [client, jobs] : queues_) {
            next = std::min(next, jobs.front().deadline);
        }
        if (next == clock::time_point::max()) {
            first_queued_.wait(lock);
            continue;
        }
        const auto now = clock::now();
        if (next > now) {
            first_queued_.wait_until(lock, next);
            continue;
        }
        std::vector<queued> expired;
        for (auto it = queues_.begin(); it != queues_.end();) {
            auto& jobs = it->second;
            while (!jobs.empty() && jobs.front().deadline <= now) {
                expired.push_back(std::move(jobs.front()));
                jobs.pop_front();
                --queued_;
            }
            if (jobs.empty()) {
                turns_.erase(std::find(turns_.begin(), turns_.end(), it->first));
                it = queues_.erase(it);
            } else {
                ++it;
            }
        }
        // The earliest first (a queued job cannot be move-assigned: its work guard).
        std::vector<queued*> order;
        order.reserve(expired.size());
        for (auto& q : expired) {
            order.push_back(&q);
        }
        std::sort(order.begin(), order.end(),
                  [](const queued* a, const queued* b) { return a->deadline < b->deadline; });
        lock.unlock();
        for (auto* q : order) {
            complete(*q, false);  // 503 now, without running it
        }
        lock.lock();
    }
}

void worker_pool::run_worker(int nice, const runner_factory& make_runner) {
    if (nice != 0) {
        // Linux: a thread's nice value is per thread (setpriority on its tid).
        const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
        if (::setpriority(PRIO_PROCESS, tid, nice) != 0) {
            log(log_level::warn, "hash_worker_nice_failed");
        }
    }
    // Made now, after the nice value is set: authd's hash helper process inherits it.
    const auto runner = make_runner();
    for (;;) {
        std::optional<queued> q;
        {
            std::unique_lock lock(mutex_);
            if (!take(lock, q)) {
                return;
            }
            ++busy_;
        }
        if (!q) {
            if (upkeep_) {
                upkeep_();
            }
        } else if (clock::now() > q->deadline) {
            complete(*q, false);  // waited too long: 503 now, without running it
        } else {
            q->job->run(*runner);
            complete(*q, true);
        }
        const std::lock_guard lock(mutex_);
        --busy_;
    }
}

}  // namespace authd::server
