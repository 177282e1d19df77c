#include "net/io_thread.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include "authd/http/http_response.hpp"
#include "authd/http/request_parser.hpp"

#include "base/log.hpp"
#include "net/connection.hpp"
#include "net/use_tuple.hpp"

namespace authd::server {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// Deadlines are checked this often: a timeout fires up to this much late, and no per-request
// timer is armed on the hot path.
constexpr auto sweep_period = std::chrono::milliseconds(250);

// SO_REUSEPORT: every I/O thread listens on the same address with its own socket, and the kernel
// spreads new connections across them (no shared accept queue, no cross-thread hand-off).
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

// A connection idle for this long is parked (connection.hpp): checked by the sweeper, so it
// happens between one and two sweep periods after the last request.
constexpr auto park_after = sweep_period;

// The coroutine frame owns the connection, then hands it to the parked wait or destroys it.
asio::awaitable<void> run_connection(std::unique_ptr<connection> c) {
    co_await c->run();
    if (c->parked()) {
        connection::wait_parked(std::move(c));
    }
}

asio::awaitable<void> serve_refusal(std::unique_ptr<connection> c) {
    co_await c->refuse();
}

// Past this many connections over the cap (refusals in progress), new ones are closed without an
// answer: refusing must not itself become unbounded work.
constexpr std::size_t refusal_slack = 256;

// One non-blocking send of the 503 answer, then close (plain HTTP; under TLS there is no channel
// to answer on before a handshake, and none is made for a refused address).
template <class Socket>
void refuse_at_once(Socket& socket, bool tls) {
    boost::system::error_code ignored;
    if (!tls) {
        static const std::string answer = [] {
            std::string head;
            write_response_head(head, api_code::busy, canned_body(api_code::busy).size(), false, 11,
                                1);
            return head + std::string(canned_body(api_code::busy));
        }();
        socket.non_blocking(true, ignored);
        socket.write_some(asio::buffer(answer), ignored);
        socket.shutdown(Socket::shutdown_both, ignored);
    }
    socket.close(ignored);
}

}  // namespace

bool thread_host::hash_queue_has_room() const {
    return shared_.executor.has_room();
}

std::string thread_host::metrics_text() const {
    return shared_.metrics_text();
}

// One audit line per login outcome.
void thread_host::audit_login(login_outcome outcome, const client_ref& client,
                              std::string_view user, limit_budget refused_by) {
    if (outcome == login_outcome::rate_limited) {
        thread_metrics::bump(metrics_.rate_limited);
        log(log_level::info, "login",
            {{"outcome", outcome_name(outcome)},
             {"client", client.address},
             {"user", user},
             {"budget", budget_name(refused_by)}});
        return;
    }
    log(log_level::info, "login",
        {{"outcome", outcome_name(outcome)}, {"client", client.address}, {"user", user}});
}

void thread_host::internal_error(std::string_view event, std::string_view detail) {
    log(log_level::error, event, {{"detail", detail}});
}

io_thread::io_thread(const shared_state& shared, thread_metrics& metrics,
                     const tcp::endpoint& endpoint)
    : shared_(shared),
      acceptor_(context_),
      sweeper_(context_),
      metrics_(metrics),
      host_(shared, metrics_),
      handler_(shared.app, host_) {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.set_option(reuse_port(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
}

tcp::endpoint io_thread::local_endpoint() const {
    return acceptor_.local_endpoint();
}

void io_thread::run() {
    asio::co_spawn(context_, accept_loop(), asio::detached);
    asio::co_spawn(context_, sweep_loop(), asio::detached);
    context_.run();
}

void io_thread::serve(std::unique_ptr<connection> c) {
    asio::co_spawn(context_, run_connection(std::move(c)), asio::detached);
}

void io_thread::drain() {
    asio::post(context_, [this] { drain_now(); });
}

void io_thread::drain_now() {
    if (draining_) {
        return;
    }
    draining_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (connection* c = head_; c != nullptr;) {
        connection* next = c->next;  // drain() may not unlink c, but be safe about order
        c->drain();
        c = next;
    }
}

void io_thread::add(connection* c) noexcept {
    c->prev = nullptr;
    c->next = head_;
    if (head_ != nullptr) {
        head_->prev = c;
    }
    head_ = c;
    ++count_;
    metrics_.connections_open.store(static_cast<std::int64_t>(count_), std::memory_order_relaxed);
}

void io_thread::remove(connection* c) noexcept {
    if (c->prev != nullptr) {
        c->prev->next = c->next;
    } else {
        head_ = c->next;
    }
    if (c->next != nullptr) {
        c->next->prev = c->prev;
    }
    --count_;
    metrics_.connections_open.store(static_cast<std::int64_t>(count_), std::memory_order_relaxed);
}

void io_thread::request_log(std::string_view line) {
    request_log_ += line;
    if (request_log_.size() >= std::size_t{32} * 1024) {
        flush_request_log();
    }
}

void io_thread::flush_request_log() {
    if (!request_log_.empty()) {
        write_log_lines(request_log_);
        request_log_.clear();
    }
}

asio::awaitable<void> io_thread::accept_loop() {
    for (;;) {
        auto [ec, socket] = co_await acceptor_.async_accept(context_, use_tuple);
        if (draining_ || ec == asio::error::operation_aborted) {
            co_return;
        }
        if (ec) {
            // Out of file descriptors and the like: say so and retry soon instead of spinning.
            log(log_level::error, "accept_failed", {{"error", ec.message()}});
            asio::steady_timer pause(context_, std::chrono::milliseconds(100));
            co_await pause.async_wait(use_tuple);
            continue;
        }
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        const auto cap = shared_.max_connections_per_thread;
        if (count_ >= cap + refusal_slack) {
            socket.close(ignored);
            continue;
        }
        // An address over its share is refused here, at once: no connection object, no TLS
        // handshake, no lingering close, so that its refusals cannot themselves fill the
        // connection cap (they take one send and one close each).
        const auto client = address_key_of(socket.remote_endpoint(ignored).address());
        if (!shared_.per_address.acquire(client)) {
            thread_metrics::bump(metrics_.connections_refused_per_address);
            refuse_at_once(socket, shared_.tls != nullptr);
            continue;
        }
        auto c = std::make_unique<connection>(std::move(socket), *this, client);
        add(c.get());  // counted in count_; the connection's destructor removes it
        c->adopt_address_slot();
        if (count_ > cap) {
            thread_metrics::bump(metrics_.connections_refused);
            asio::co_spawn(context_, serve_refusal(std::move(c)), asio::detached);
        } else {
            serve(std::move(c));
        }
    }
}

asio::awaitable<void> io_thread::sweep_loop() {
    // Runs until the thread drains and its last connection is gone: then the context runs out of
    // work and run() returns.
    while (!draining_ || head_ != nullptr) {
        sweeper_.expires_after(sweep_period);
        co_await sweeper_.async_wait(use_tuple);
        const auto now = connection::clock::now();
        for (connection* c = head_; c != nullptr; c = c->next) {
            c->sweep(now, park_after);
        }
        flush_request_log();
    }
    flush_request_log();
}

}  // namespace authd::server
