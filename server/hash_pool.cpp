#include "hash_pool.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include "authd/secret.hpp"

#include "log.hpp"

namespace authd::server {

namespace asio = boost::asio;

hash_pool::hash_pool(const login_service& service, std::size_t workers, std::size_t queue_capacity,
                     int nice)
    : service_(service), capacity_(queue_capacity) {
    threads_.reserve(workers);
    for (std::size_t i = 0; i < workers; ++i) {
        threads_.emplace_back([this, nice] { run_worker(nice); });
    }
}

hash_pool::~hash_pool() {
    stop();
}

void hash_pool::stop() {
    std::deque<job> dropped;
    {
        const std::lock_guard lock(mutex_);
        stopping_ = true;
        dropped.swap(queue_);
    }
    ready_.notify_all();
    for (auto& t : threads_) {
        if (t.joinable()) {
            t.join();
        }
    }
    for (auto& j : dropped) {
        complete(j, std::nullopt);
    }
}

std::size_t hash_pool::queue_depth() const {
    const std::lock_guard lock(mutex_);
    return queue_.size();
}

void hash_pool::submit(job&& j) {
    {
        const std::lock_guard lock(mutex_);
        if (!stopping_ && queue_.size() < capacity_) {
            queue_.push_back(std::move(j));
            ready_.notify_one();
            return;
        }
    }
    complete(j, std::nullopt);  // full: the caller answers 503 at once
}

void hash_pool::complete(job& j, std::optional<login_result> result) {
    wipe(j.password);
    auto executor = j.work.get_executor();
    // The handler resumes its coroutine on the I/O thread that owns the connection.
    asio::post(executor, [handler = std::move(j.handler), result = std::move(result)]() mutable {
        std::move(handler)(std::move(result));
    });
    j.work.reset();
}

void hash_pool::run_worker(int nice) {
    if (nice != 0) {
        // Linux: a thread's nice value is per thread (setpriority on its tid).
        const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
        if (::setpriority(PRIO_PROCESS, tid, nice) != 0) {
            log(log_level::warn, "hash_worker_nice_failed");
        }
    }
    for (;;) {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) {
            return;  // stopping, nothing left
        }
        job j = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        auto result = service_.login(j.user, j.password);
        complete(j, std::move(result));
    }
}

}  // namespace authd::server
