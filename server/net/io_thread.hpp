// One I/O thread: its io_context, its acceptor (SO_REUSEPORT), its connections, and the sweeper
// that enforces their deadlines. Everything here is confined to that thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "authd/login/handler_host.hpp"
#include "authd/login/request_handler.hpp"

#include "base/job_executor.hpp"
#include "base/thread_metrics.hpp"
#include "net/address_connections.hpp"
#include "net/connection_options.hpp"

namespace authd::server {

class connection;

// What all I/O threads share (read-only after start; the executor and the application's parts
// are thread-safe).
struct shared_state {
    const connection_options& options;
    job_executor& executor;                     // runs the logins and logouts' store writes
    request_handler::parts app;                 // what each thread's request handler is made of
    std::function<std::string()> metrics_text;  // /metrics: the whole process's text
    address_connections& per_address;           // --max-connections-per-address, across threads
    std::size_t max_connections_per_thread;
    boost::asio::ssl::context* tls;  // nullptr: plain HTTP
};

// What this thread's request handler asks of the server: the hash queue's room, the metrics text,
// the audit log and the error log.
class thread_host final : public handler_host {
  public:
    thread_host(const shared_state& shared, thread_metrics& metrics)
        : shared_(shared), metrics_(metrics) {}
    bool hash_queue_has_room() const override;
    std::string metrics_text() const override;
    void audit_login(login_outcome outcome, const client_ref& client, std::string_view user,
                     limit_budget refused_by) override;
    void internal_error(std::string_view event, std::string_view detail) override;

  private:
    const shared_state& shared_;
    thread_metrics& metrics_;
};

class io_thread {
  public:
    // metrics: this thread's counters (it is their only writer).
    io_thread(const shared_state& shared, thread_metrics& metrics,
              const boost::asio::ip::tcp::endpoint& endpoint);
    io_thread(const io_thread&) = delete;
    io_thread& operator=(const io_thread&) = delete;

    // The bound endpoint (with the real port when the configured one was 0).
    boost::asio::ip::tcp::endpoint local_endpoint() const;

    // Runs the event loop until the thread has drained (call on the thread itself).
    void run();

    // Stop accepting; close idle connections; let busy ones finish their request and close.
    // Thread-safe (posts to the thread).
    void drain();

    // Serves a new connection, or a parked one that woke up, in a new coroutine.
    void serve(std::unique_ptr<connection> c);

    // Ends the event loop now (after the shutdown timeout). Thread-safe.
    void stop() { context_.stop(); }

    boost::asio::io_context& context() noexcept { return context_; }
    const shared_state& shared() const noexcept { return shared_; }
    bool draining() const noexcept { return draining_; }

    // Connection registry (called by connection's constructor and destructor).
    void add(connection* c) noexcept;
    void remove(connection* c) noexcept;

    thread_metrics& metrics() noexcept { return metrics_; }

    // The application (core): what to answer to each request of this thread's connections.
    request_handler& handler() noexcept { return handler_; }

    // Idle connections that keep their coroutine and buffers, waiting in a read (so that the next
    // request costs no system call more than the read): at most hot_idle_limit per thread, which
    // bounds the memory they hold; past it, a connection that goes idle is parked at once.
    static constexpr std::size_t hot_idle_limit = 256;
    bool take_hot_idle_slot() noexcept {
        if (hot_idle_ >= hot_idle_limit) {
            return false;
        }
        ++hot_idle_;
        return true;
    }
    void release_hot_idle_slot() noexcept { --hot_idle_; }

    // Appends one line to this thread's request log, written out in batches (at 32 KiB, and by the
    // sweeper four times a second), as nginx's buffered access_log does.
    void request_log(std::string_view line);
    void flush_request_log();

  private:
    boost::asio::awaitable<void> accept_loop();
    boost::asio::awaitable<void> sweep_loop();
    void drain_now();

    const shared_state& shared_;
    // One thread runs it, and only that thread touches its sockets and timers (other threads
    // post to it): the per-socket locks of Asio's reactor are left out.
    boost::asio::io_context context_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::steady_timer sweeper_;
    thread_metrics& metrics_;
    thread_host host_;
    request_handler handler_;
    std::string request_log_;
    connection* head_ = nullptr;  // intrusive list of this thread's connections
    std::size_t count_ = 0;
    std::size_t hot_idle_ = 0;
    bool draining_ = false;
};

}  // namespace authd::server
