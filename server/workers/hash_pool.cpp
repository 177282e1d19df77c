#include "workers/hash_pool.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include "authd/crypto/secret.hpp"

#include "app/log.hpp"
#include "workers/hash_helper.hpp"

namespace authd::server {

namespace asio = boost::asio;

hash_pool::hash_pool(const login_service& service, attempt_limiter& limiter, const options& opts)
    : service_(service),
      limiter_(limiter),
      capacity_(opts.queue_capacity),
      per_client_capacity_(opts.per_client_capacity),
      queue_timeout_(opts.queue_timeout) {
    threads_.reserve(opts.workers);
    for (std::size_t i = 0; i < opts.workers; ++i) {
        threads_.emplace_back([this, nice = opts.nice] { run_worker(nice); });
    }
}

// stop() throws only if joining a worker fails (a deadlock or a thread that is not joinable: a
// bug), and ending the process then is what a destructor's exception does anyway.
hash_pool::~hash_pool() {  // NOLINT(bugprone-exception-escape)
    stop();
}

void hash_pool::stop() {
    std::unordered_map<std::uint64_t, std::deque<job>> dropped;
    {
        const std::lock_guard lock(mutex_);
        stopping_ = true;
        dropped.swap(queues_);
        turns_.clear();
        queued_ = 0;
    }
    ready_.notify_all();
    for (auto& t : threads_) {
        if (t.joinable()) {
            t.join();
        }
    }
    for (auto& [client, jobs] : dropped) {
        for (auto& j : jobs) {
            complete(j, std::nullopt);
        }
    }
}

std::size_t hash_pool::queue_depth() const {
    const std::lock_guard lock(mutex_);
    return queued_;
}

bool hash_pool::has_room() const {
    const std::lock_guard lock(mutex_);
    return queued_ * 10 < capacity_ * 9;
}

std::size_t hash_pool::busy_workers() const {
    const std::lock_guard lock(mutex_);
    return busy_;
}

void hash_pool::submit(std::uint64_t client, job&& j) {
    {
        const std::lock_guard lock(mutex_);
        if (!stopping_ && queued_ < capacity_) {
            auto& jobs = queues_[client];
            if (jobs.size() < per_client_capacity_) {
                if (jobs.empty()) {
                    turns_.push_back(client);
                }
                jobs.push_back(std::move(j));
                ++queued_;
                ready_.notify_one();
                return;
            }
        }
    }
    complete(j, std::nullopt);  // full: the caller answers 503 at once
}

void hash_pool::request_store_check() {
    {
        const std::lock_guard lock(mutex_);
        if (stopping_ || store_check_pending_) {
            return;
        }
        store_check_pending_ = true;
    }
    ready_.notify_one();
}

// The next job in round-robin order across clients (lock held), a store check first. False when
// stopping and empty.
bool hash_pool::take(std::unique_lock<std::mutex>& lock, std::optional<job>& out) {
    ready_.wait(lock, [this] { return stopping_ || store_check_pending_ || !turns_.empty(); });
    if (store_check_pending_ && !stopping_) {
        store_check_pending_ = false;
        return true;  // out stays empty: the store check
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

void hash_pool::complete(job& j, std::optional<service_result> result) {
    wipe(j.password);
    auto executor = j.work.get_executor();
    // The handler resumes its coroutine on the I/O thread that owns the connection.
    asio::post(executor, [handler = std::move(j.handler), result = std::move(result)]() mutable {
        std::move(handler)(std::move(result));
    });
    j.work.reset();
}

// One login attempt under the brute-force limits: admitted (counted) before its hash, settled by
// its outcome after it. Refused: 429 without hashing.
service_result hash_pool::attempt(const job& j, argon2_runner& runner) const {
    if (j.password.size() > max_password_bytes) {
        return service_.login(j.subject, j.password, runner);  // refused unhashed: nothing to count
    }
    const auto admitted = limiter_.admit(j.subject, j.client, clock::now());
    if (admitted.wait > 0) {
        return service_result{
            api_code::too_many_attempts,
            error_body(api_code::too_many_attempts, message_too_many_attempts(admitted.wait)),
            {},
            false,
            admitted.wait,
            admitted.refused_by};
    }
    auto result = service_.login(j.subject, j.password, runner);  // argon2 in this worker's helper
    using outcome = attempt_limiter::outcome;
    const auto settled = result.code == api_code::not_found ? outcome::failure
                         : result.code == api_code::ok      ? outcome::success
                                                            : outcome::abandoned;
    limiter_.settle(j.subject, j.client, admitted, settled, clock::now());
    return result;
}

void hash_pool::run_worker(int nice) {
    if (nice != 0) {
        // Linux: a thread's nice value is per thread (setpriority on its tid).
        const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
        if (::setpriority(PRIO_PROCESS, tid, nice) != 0) {
            log(log_level::warn, "hash_worker_nice_failed");
        }
    }
    // argon2 runs in a helper process of this worker's, started now (after the nice value is
    // set, so that it inherits it). While none can be started, argon2 runs in this thread (the
    // helper says so in the log at the first login).
    hash_helper helper;
    static_cast<void>(helper.start());
    for (;;) {
        std::optional<job> j;
        {
            std::unique_lock lock(mutex_);
            if (!take(lock, j)) {
                return;
            }
            ++busy_;
        }
        if (!j) {
            service_.check_store();
            limiter_.maintain(clock::now());
        } else if (clock::now() > j->deadline) {
            complete(*j, std::nullopt);  // waited too long: 503 now, without hashing
        } else {
            auto result = j->revoke_until > 0 ? service_.revoke(j->subject, j->revoke_until)
                                              : attempt(*j, helper);
            complete(*j, std::move(result));
        }
        const std::lock_guard lock(mutex_);
        --busy_;
    }
}

}  // namespace authd::server
