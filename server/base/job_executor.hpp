// Where a connection hands a blocking_job (core/login/blocking_job.hpp) to be run off its I/O
// thread, and how it gets the job back: all that server/net knows of the worker pool
// (workers/worker_pool.hpp implements it).
#pragma once

#include <cstdint>
#include <memory>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>

#include "authd/login/blocking_job.hpp"

namespace authd::server {

// Completes with the job and whether it ran: false when it never did (the queue was full, it
// waited past its deadline, or the pool stopped), for the job to answer 503.
using job_signature = void(std::unique_ptr<blocking_job>, bool);
using job_completion = boost::asio::any_completion_handler<job_signature>;

class job_executor {
  public:
    virtual ~job_executor() = default;

    // Queues job in client's queue (client: the caller's address key, for a fair share of the
    // workers); done runs on io, whose run() is kept from returning meanwhile. Thread-safe.
    virtual void submit(std::uint64_t client, std::unique_ptr<blocking_job> job,
                        const boost::asio::io_context::executor_type& io, job_completion done) = 0;

    // False when the queue is at least 90% full (/readyz: send no more traffic here).
    virtual bool has_room() const = 0;
};

// submit() as an asynchronous operation (co_await async_run(..., asio::use_awaitable)).
template <class CompletionToken>
auto async_run(job_executor& executor, const boost::asio::io_context::executor_type& io,
               std::uint64_t client, std::unique_ptr<blocking_job> job, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, job_signature>(
        [&executor, io, client](auto handler, std::unique_ptr<blocking_job> j) {
            executor.submit(client, std::move(j), io, job_completion(std::move(handler)));
        },
        token, std::move(job));
}

}  // namespace authd::server
