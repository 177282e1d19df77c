// The bounded pool of hash workers. Password verification (argon2id, tens of milliseconds) runs
// here, never on an I/O thread; a full queue is refused at once so that the caller answers 503
// instead of waiting without bound. Concurrent argon2 memory is at most workers x memory cost.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "authd/login_service.hpp"

namespace authd::server {

// Completes with the login's result, or with nullopt when the queue was full.
using login_signature = void(std::optional<login_result>);

class hash_pool {
  public:
    // nice is added to each worker thread's nice value (Linux), so that I/O threads win the CPU.
    hash_pool(const login_service& service, std::size_t workers, std::size_t queue_capacity,
              int nice);
    ~hash_pool();
    hash_pool(const hash_pool&) = delete;
    hash_pool& operator=(const hash_pool&) = delete;

    // Queues one login. The completion runs on io (whose run() is kept from returning meanwhile).
    template <class CompletionToken>
    auto async_login(boost::asio::io_context::executor_type io, std::string_view user,
                     std::string_view password, CompletionToken&& token) {
        return boost::asio::async_initiate<CompletionToken, login_signature>(
            [this, io](auto handler, std::string_view u, std::string_view p) {
                submit(job{std::string(u), std::string(p), boost::asio::make_work_guard(io),
                           handler_type(std::move(handler))});
            },
            token, user, password);
    }

    // Finishes the jobs in hand, drops the queued ones, joins the workers. Idempotent.
    void stop();

    std::size_t queue_depth() const;
    std::size_t workers() const noexcept { return threads_.size(); }

  private:
    using handler_type = boost::asio::any_completion_handler<login_signature>;
    struct job {
        std::string user;
        std::string password;
        boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work;
        handler_type handler;
    };

    void submit(job&& j);
    void run_worker(int nice);
    static void complete(job& j, std::optional<login_result> result);

    const login_service& service_;
    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<job> queue_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace authd::server
