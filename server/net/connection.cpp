#include "net/connection.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <tuple>

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>

#include "authd/http/http_response.hpp"
#include "authd/util/clock.hpp"

#include "base/log.hpp"
#include "net/io_thread.hpp"
#include "net/use_tuple.hpp"

namespace authd::server {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::beast::error_code;

namespace {

// Answers owed to a client past which its connection is not read (nor its pipelined requests
// parsed) until they are written: a client that sends without reading what it is sent cannot
// make authd hold more than this plus one answer for it.
constexpr std::size_t max_unsent_bytes = std::size_t{16} * 1024;
// How long a closing connection keeps reading (and discarding) what the client still sends, so
// that closing never resets the connection under unread data.
constexpr auto linger_time = std::chrono::seconds(2);

}  // namespace

connection::connection(tcp_socket socket, io_thread& owner, std::uint64_t client)
    : plain_(socket.get_executor()),
      owner_(owner),
      active_(make_active_state()),
      // The first request must arrive whole within the request deadline counted from accept: a
      // connection that sends nothing is not a keep-alive connection between requests.
      request_deadline_(clock::now() + owner.shared().options.request_timeout),
      client_(client) {
    error_code ec;
    const auto peer = socket.remote_endpoint(ec).address();
    peer_ = peer.to_string();
    if (auto* tls = owner.shared().tls; tls != nullptr) {
        tls_ = std::make_unique<tls_stream>(std::move(socket), *tls);
    } else {
        plain_ = std::move(socket);
        // Responses are written with one direct send when the socket takes them whole (it
        // nearly always does): no trip through the event loop. Reads stay asynchronous.
        plain_.non_blocking(true, ec);
    }
}

connection::~connection() {
    if (holds_address_slot_) {
        owner_.shared().per_address.release(client_);
    }
    set_parked(false);
    owner_.remove(this);
}

void connection::set_parked(bool parked) noexcept {
    if (parked != parked_) {
        parked_ = parked;
        auto& gauge = owner_.metrics().connections_parked;
        gauge.store(gauge.load(std::memory_order_relaxed) + (parked ? 1 : -1),
                    std::memory_order_relaxed);
    }
}

void connection::sweep(clock::time_point now, clock::duration park_after) {
    error_code ignored;
    if (now >= deadline_) {
        deadline_ = clock::time_point::max();
        park_requested_ = false;
        socket().cancel(ignored);
    } else if (idle_ && !park_requested_ && !draining_ && !tls_ &&
               now - idle_since_ >= park_after) {
        // The idle read is cancelled; read_request() sees park_requested_ and run() returns.
        // (TLS connections are not parked: the stream may hold decrypted bytes the socket no
        // longer shows.)
        park_requested_ = true;
        socket().cancel(ignored);
    }
}

void connection::drain() {
    draining_ = true;
    if (idle_ || parked_) {
        error_code ignored;
        socket().cancel(ignored);  // run() sees draining_ and closes
    }
}

void connection::wait_parked(std::unique_ptr<connection> self) {
    auto& socket = self->plain_;
    // The handler owns the connection: if the event loop is destroyed with the wait pending, the
    // connection is destroyed with it.
    socket.async_wait(asio::socket_base::wait_read,
                      [self = std::move(self)](error_code ec) mutable {
                          self->set_parked(false);
                          if (!ec) {
                              if (!self->read_on_wake()) {
                                  return;  // the client had closed: so has this connection
                              }
                              if (!self->active_) {  // woken with nothing to read
                                  if (!self->draining_) {
                                      self->set_parked(true);
                                      wait_parked(std::move(self));
                                      return;
                                  }
                                  ec = asio::error::operation_aborted;  // closed as drained
                              }
                          }
                          self->woken_ = true;
                          self->wake_ec_ = ec;
                          auto& owner = self->owner_;
                          owner.serve(std::move(self));
                      });
}

// The first read of a woken connection, here rather than in a new coroutine: a client that
// closed a parked connection (the usual end of one) costs no coroutine and no buffer. False when
// the client has gone (the socket is closed: no unread data is left to linger for); otherwise the
// bytes are in the request state, or there were none (spurious wake-up: no request state, parked
// again).
bool connection::read_on_wake() {
    active_ = make_active_state();
    error_code ec;
    const auto n = plain_.read_some(active_->in.prepare(read_chunk_bytes), ec);  // non-blocking
    active_->in.commit(n);
    if (ec == asio::error::would_block) {
        active_.reset();
        return true;
    }
    if (ec) {
        active_.reset();
        plain_.close(ec);
        return false;
    }
    return true;
}

std::unique_ptr<connection::active_state> connection::make_active_state() const {
    return std::make_unique<active_state>(connection_buffer_bytes(owner_.shared().options.limits));
}

// Feeds what was read to the parser: a whole request, a refused one, or more bytes needed.
connection::parse_step connection::parse_buffered(request_parser& parser, error_code& parse_ec) {
    while (active_->in.size() > 0) {
        error_code ec;
        const auto used = parser.put(active_->in.data(), ec);
        active_->in.consume(used);
        if (!ec && parser.is_done()) {
            return parse_step::request;
        }
        if (ec && ec != http::error::need_more) {
            parse_ec = ec;
            return parse_step::error;
        }
        if (ec) {
            break;  // need_more
        }
        // parsed a part (the header), the rest may be in the buffer already
    }
    return parse_step::more;
}

// Before a read: is the connection idle (between requests), and until when may the read take?
// Between requests the idle deadline applies; once a request has begun (or before the first one),
// it must arrive whole by one deadline that later bytes do not extend (a slowloris client
// trickling a byte at a time is closed all the same). False: idle while draining, close now.
bool connection::arm_read_deadline(const request_parser& parser) {
    const auto& config = owner_.shared().options;
    const bool was_idle = idle_;
    idle_ = !parser.got_some() && active_->in.size() == 0;
    if (idle_ && draining_) {
        return false;
    }
    const auto now = clock::now();
    if (idle_ && !was_idle) {
        idle_since_ = now;
    }
    if (!idle_ && request_deadline_ == clock::time_point::max()) {
        request_deadline_ = now + config.request_timeout;
    }
    deadline_ = idle_ && requests_ > 0 ? now + config.idle_timeout : request_deadline_;
    return true;
}

// The client ended its stream: a clean close between requests, or the end of a request whose
// length is its end (put_eof), or a request cut short.
connection::read_status connection::at_eof(request_parser& parser, error_code& parse_ec) {
    if (!parser.got_some() && active_->in.size() == 0) {
        return read_status::closed;
    }
    error_code ec;
    parser.put_eof(ec);
    if (!ec && parser.is_done()) {
        return read_status::request;
    }
    parse_ec = ec ? ec : http::error::partial_message;
    return read_status::parse_error;
}

asio::awaitable<connection::read_status> connection::read_request(request_parser& parser,
                                                                  error_code& parse_ec) {
    for (;;) {
        if (active_->out.size() >= max_unsent_bytes) {
            if (!co_await flush()) {
                co_return read_status::failed;
            }
        }
        const auto parsed = parse_buffered(parser, parse_ec);
        if (parsed != parse_step::more) {
            co_return parsed == parse_step::request ? read_status::request
                                                    : read_status::parse_error;
        }
        // Nothing more to parse without reading: first write what is owed (pipelining), and a
        // "100 Continue" a client asked for before it sends the body.
        if (parser.take_continue()) {
            active_->out += "HTTP/1.1 100 Continue\r\n\r\n";
        }
        if (!active_->out.empty()) {
            // Written at once nearly always: no coroutine to start for it.
            const auto now_written = write_now();
            bool written = now_written == write_result::done;
            if (now_written == write_result::pending) {
                written = co_await flush_pending();
            }
            if (!written) {
                co_return read_status::failed;
            }
        }
        if (!arm_read_deadline(parser)) {
            co_return read_status::closed;
        }
        const auto room = active_->in.max_size() - active_->in.size();
        if (room == 0) {
            parse_ec = http::error::header_limit;
            co_return read_status::parse_error;
        }
        // Reading (rather than waiting for readability, then reading) costs no epoll_ctl per
        // request. Too many connections idle already: this one is parked at once.
        const bool hot_idle = idle_ && !tls_;
        if (hot_idle && !owner_.take_hot_idle_slot()) {
            idle_ = false;
            co_return read_status::parked;
        }
        const auto buffer = active_->in.prepare(std::min(room, read_chunk_bytes));
        error_code ec;
        std::size_t n = 0;
        if (tls_) {
            std::tie(ec, n) = co_await tls_->async_read_some(buffer, use_tuple);
        } else {
            std::tie(ec, n) = co_await plain_.async_read_some(buffer, use_tuple);
        }
        if (hot_idle) {
            owner_.release_hot_idle_slot();
        }
        idle_ = false;
        active_->in.commit(n);
        if (park_requested_) {
            park_requested_ = false;
            if (ec == asio::error::operation_aborted && n == 0 && !draining_) {
                co_return read_status::parked;
            }
        }
        if (ec == asio::error::eof) {
            co_return at_eof(parser, parse_ec);
        }
        if (ec) {
            co_return draining_ ? read_status::closed : read_status::failed;
        }
    }
}

void connection::append_response(const response& r, bool keep_alive) {
    owner_.metrics().count_request(active_->head.route, r.code);
    last_code_ = r.code;
    auto body = r.body;
    // A response to HEAD never has content (RFC 9110 section 9.3.2), whatever its status and
    // wherever it comes from (405, 404, a parse error): Content-Length 0, so that even a client
    // that does not track HEAD reads the next response intact (docs/api.md, "HEAD").
    if (active_->head.method == http::verb::head) {
        body = {};
    }
    // A drain that began while this request was in progress closes the connection after it.
    // The head is built in one string per thread (never held across a suspension).
    thread_local std::string head_scratch;
    write_response_head(head_scratch, r.code, body.size(), keep_alive && !draining_,
                        active_->head.version, r.retry_after, r.content_type, r.extra_headers);
    active_->out += head_scratch;
    active_->out += body;
}

connection::write_result connection::write_now() {
    if (tls_) {
        return write_result::pending;
    }
    auto& out = active_->out;
    error_code ec;
    const auto written = plain_.write_some(asio::buffer(out), ec);  // non-blocking
    if (!ec && written == out.size()) {
        out.clear();
        return write_result::done;
    }
    if (ec && ec != asio::error::would_block) {
        out.clear();
        return write_result::failed;
    }
    out.erase(0, written);  // the socket's buffer is full: the rest waits in flush()
    return write_result::pending;
}

asio::awaitable<bool> connection::flush() {
    const auto now = write_now();
    if (now != write_result::pending) {
        co_return now == write_result::done;
    }
    co_return co_await flush_pending();
}

asio::awaitable<bool> connection::flush_pending() {
    deadline_ = clock::now() + owner_.shared().options.write_timeout;
    error_code ec;
    if (tls_) {
        std::tie(ec, std::ignore) =
            co_await asio::async_write(*tls_, asio::buffer(active_->out), use_tuple);
    } else {
        std::tie(ec, std::ignore) =
            co_await asio::async_write(plain_, asio::buffer(active_->out), use_tuple);
    }
    deadline_ = clock::time_point::max();
    active_->out.clear();
    co_return !ec;
}

void connection::log_request(api_code code, clock::time_point started) {
    if (!log_enabled(log_level::info)) {
        return;
    }
    const auto micros = std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - started).count());
    // Milliseconds with three decimals, without printf's floating point.
    char latency[32];
    auto* end = std::to_chars(latency, latency + sizeof latency - 4, micros / 1000).ptr;
    const auto frac = static_cast<int>(micros % 1000);
    *end++ = '.';
    *end++ = static_cast<char>('0' + frac / 100);
    *end++ = static_cast<char>('0' + frac / 10 % 10);
    *end++ = static_cast<char>('0' + frac % 10);
    const std::string_view latency_text(latency, static_cast<std::size_t>(end - latency));
    const auto code_text = std::to_string(static_cast<unsigned>(code));
    thread_local std::string line;
    line.clear();
    if (active_->head.route == route::login && active_->head.user_name.count == 1) {
        format_log_line(line, log_level::info, "request",
                        {{"client", peer_},
                         {"route", route_name(active_->head.route)},
                         {"code", code_text},
                         {"latency_ms", latency_text},
                         {"user", active_->head.user_name.value}});
    } else {
        format_log_line(line, log_level::info, "request",
                        {{"client", peer_},
                         {"route", route_name(active_->head.route)},
                         {"code", code_text},
                         {"latency_ms", latency_text}});
    }
    owner_.request_log(line);
}

// A login or a logout: the step's job goes to the worker pool (which bounds this wait, not the
// sweeper) and comes back with its answer. A job leaves the I/O thread here, and only here.
asio::awaitable<void> connection::await_job(step& s, bool keep_alive) {
    deadline_ = clock::time_point::max();
    auto [job, ran] = co_await async_run(owner_.shared().executor, owner_.context().get_executor(),
                                         client_, std::move(s.job), use_tuple);
    append_response(job->answer(ran), keep_alive);
}

// The TLS handshake, under the request deadline. False when it failed (the connection is dropped
// without an answer: there is no channel to answer on).
asio::awaitable<bool> connection::handshake() {
    if (!tls_) {
        co_return true;
    }
    deadline_ = clock::now() + owner_.shared().options.request_timeout;
    auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::server, use_tuple);
    deadline_ = clock::time_point::max();
    if (ec) {
        log(log_level::debug, "tls_handshake_failed", {{"error", ec.message()}});
        error_code ignored;
        socket().close(ignored);
    }
    co_return !ec;
}

asio::awaitable<void> connection::close_gracefully() {
    error_code ec;
    deadline_ = clock::now() + linger_time;
    if (tls_) {
        // close_notify, then wait (briefly) for the client's: a truncation attack cannot pass a
        // cut connection off as a complete one.
        co_await tls_->async_shutdown(use_tuple);
    }
    socket().shutdown(tcp_socket::shutdown_send, ec);
    if (!ec) {
        // Discard what the client still sends until it closes too, or for linger_time at most.
        char sink[1024];
        for (;;) {
            auto [read_ec, n] = co_await socket().async_read_some(asio::buffer(sink), use_tuple);
            if (read_ec) {
                break;
            }
        }
    }
    socket().close(ec);
}

asio::awaitable<void> connection::refuse() {
    // (GCC 12 miscompiles co_await inside an if condition in some frames: await first.)
    const bool secured = co_await handshake();
    if (!secured) {
        co_return;
    }
    append_response(canned_response(api_code::busy, 1), false);
    co_await flush();
    co_await close_gracefully();
}

asio::awaitable<void> connection::run() {
    const auto& config = owner_.shared().options;
    if (woken_) {
        // A parked connection: the first bytes of its next request are in the request state
        // (read_on_wake), or its wait was cancelled (idle deadline, drain) or failed.
        woken_ = false;
        if (wake_ec_) {
            co_await close_gracefully();
            co_return;
        }
    } else {
        // (GCC 12 miscompiles co_await inside an if condition in some frames: await first.)
        const bool secured = co_await handshake();
        if (!secured) {
            co_return;
        }
    }
    for (;;) {
        request_parser parser(active_->head, config.limits);
        parser.eager(true);
        error_code parse_ec;
        const auto status = co_await read_request(parser, parse_ec);
        if (status == read_status::parked) {
            active_.reset();  // the request head's destructor wipes what a password left
            set_parked(true);
            co_return;  // the caller hands this connection to wait_parked()
        }
        if (status == read_status::closed || status == read_status::failed) {
            break;
        }
        if (status == read_status::parse_error) {
            append_response(request_handler::parse_error(parse_ec), false);
            break;
        }
        request_deadline_ = clock::time_point::max();
        const bool keep_alive =
            parser.keep_alive() && !draining_ && ++requests_ < config.max_requests_per_connection;
        const auto started = clock::now();
        auto s = owner_.handler().handle(active_->head, client_ref{client_, peer_}, unix_now());
        if (!s.job) {
            append_response(s.answer, keep_alive);
        } else {
            co_await await_job(s, keep_alive);
        }
        if (s.attempt) {
            owner_.metrics().observe_login(clock::now() - started);
        }
        if (s.logged) {
            log_request(last_code_, started);
        }
        active_->head.clear();  // wipes the password
        if (!keep_alive || draining_) {
            break;
        }
    }
    active_->head.clear();
    if (!active_->out.empty()) {
        co_await flush();
    }
    co_await close_gracefully();
}

}  // namespace authd::server
