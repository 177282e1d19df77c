// The bounded pool of hash workers. Password verification (argon2id, tens of milliseconds) runs
// here, never on an I/O thread; a full queue is refused at once so that the caller answers 503
// instead of waiting without bound. Concurrent argon2 memory is at most workers x memory cost.
//
// Fair share: each client (address key) has its own queue, and workers take jobs round-robin
// across clients, so a client flooding the pool only lengthens its own queue. A client's queue is
// bounded too, and a job still queued at its deadline is answered 503 without hashing (its client
// would have given up by then).
//
// Brute-force limits: a login is admitted by the attempt limiter when a worker takes it, right
// before hashing, and settled by its outcome right after (attempt_limiter.hpp): so only attempts
// that are hashed hold a count, and however many arrive together, no more are hashed than the
// policy allows.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "authd/login/attempt_limiter.hpp"
#include "authd/login/login_service.hpp"

namespace authd::server {

// Completes with the login's result, or with nullopt when the queue was full.
using job_signature = void(std::optional<service_result>);

class hash_pool {
  public:
    using clock = std::chrono::steady_clock;

    struct options {
        std::size_t workers = 1;
        std::size_t queue_capacity = 64;       // all clients together
        std::size_t per_client_capacity = 16;  // one client (address)
        clock::duration queue_timeout = std::chrono::seconds(3);
        int nice = 0;  // added to each worker's nice value (Linux), so I/O threads win the CPU
    };

    hash_pool(const login_service& service, attempt_limiter& limiter, const options& opts);
    ~hash_pool();  // NOLINT(bugprone-exception-escape): see hash_pool.cpp
    hash_pool(const hash_pool&) = delete;
    hash_pool& operator=(const hash_pool&) = delete;

    // Queues one login. The completion runs on io (whose run() is kept from returning meanwhile).
    // client is the caller's address key (attempt_limiter's address_key).
    template <class CompletionToken>
    auto async_login(const boost::asio::io_context::executor_type& io, std::uint64_t client,
                     std::string_view user, std::string_view password, CompletionToken&& token) {
        return boost::asio::async_initiate<CompletionToken, job_signature>(
            [this, io, client](auto handler, std::string_view u, std::string_view p) {
                submit(client, job{std::string(u), std::string(p), clock::now() + queue_timeout_,
                                   boost::asio::make_work_guard(io),
                                   handler_type(std::move(handler)), client});
            },
            token, user, password);
    }

    // Queues the storing of a token's revocation (/logout): a blocking store write, so it runs
    // here too, never on an I/O thread.
    template <class CompletionToken>
    auto async_revoke(const boost::asio::io_context::executor_type& io, std::uint64_t client,
                      std::string_view jti, std::int64_t exp, CompletionToken&& token) {
        return boost::asio::async_initiate<CompletionToken, job_signature>(
            [this, io, client, exp](auto handler, std::string_view id) {
                job j{std::string(id),
                      {},
                      clock::now() + queue_timeout_,
                      boost::asio::make_work_guard(io),
                      handler_type(std::move(handler)),
                      client};
                j.revoke_until = exp;
                submit(client, std::move(j));
            },
            token, jti);
    }

    // Has the next free worker run the service's periodic store check (login_service::
    // check_store: store calls block, so never on an I/O thread, and not on the main thread, which
    // must stay free for signals). Before any queued login; requests made while one is pending
    // are merged into it. Thread-safe.
    void request_store_check();

    // Finishes the jobs in hand, drops the queued ones, joins the workers. Idempotent.
    void stop();

    std::size_t queue_depth() const;
    std::size_t busy_workers() const;
    // False when the queue is at least 90% full (/readyz: send no more traffic here).
    bool has_room() const;
    std::size_t workers() const noexcept { return threads_.size(); }

  private:
    using handler_type = boost::asio::any_completion_handler<job_signature>;
    // A login (revoke_until == 0) or a logout's stored revocation (revoke_until > 0).
    struct job {
        std::string subject;   // a login: the user name; a revocation: the token id (jti)
        std::string password;  // a login's only (wiped after)
        clock::time_point deadline;
        boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work;
        handler_type handler;
        std::uint64_t client = 0;       // the caller's address key
        std::int64_t revoke_until = 0;  // a revocation: the token's exp, when it may be forgotten
    };

    void submit(std::uint64_t client, job&& j);
    // The next job (or, with out left empty, a store check), with the lock held. False when
    // stopping.
    bool take(std::unique_lock<std::mutex>& lock, std::optional<job>& out);
    void run_worker(int nice);
    static void complete(job& j, std::optional<service_result> result);
    service_result attempt(const job& j, argon2_runner& runner) const;

    const login_service& service_;
    attempt_limiter& limiter_;
    const std::size_t capacity_;
    const std::size_t per_client_capacity_;
    const clock::duration queue_timeout_;
    mutable std::mutex mutex_;
    std::condition_variable ready_;
    std::unordered_map<std::uint64_t, std::deque<job>> queues_;  // per client, non-empty
    std::deque<std::uint64_t> turns_;  // clients with queued jobs, in round-robin order
    std::size_t queued_ = 0;
    std::size_t busy_ = 0;
    bool stopping_ = false;
    bool store_check_pending_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace authd::server
