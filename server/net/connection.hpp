// One client connection: read a request, answer it, repeat (HTTP/1.1 keep-alive, pipelining
// answered in order). Lives on the I/O thread that accepted it.
//
// A connection that has been idle for a while is parked: its coroutine ends, its buffers are
// freed, and what is left (this object and the socket's readiness wait) is all it costs until the
// client sends again, when a new coroutine picks it up (nginx, similarly, frees its buffers on
// idle keep-alive connections).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "authd/http/request_parser.hpp"
#include "authd/login/request_handler.hpp"
#include "authd/util/wipe.hpp"

namespace authd::server {

class io_thread;

// A TCP socket bound to an io_context (an 8-byte executor, where tcp::socket's polymorphic one
// takes 56: it is in every connection and every pending operation).
using tcp_socket =
    boost::asio::basic_stream_socket<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;

class connection {
  public:
    using clock = std::chrono::steady_clock;

    // client: the peer's address key (login/address_key.hpp), as the owner counted it. The owner
    // lists the connection (io_thread::add); the destructor takes it off the list.
    connection(tcp_socket socket, io_thread& owner, std::uint64_t client);
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    // Serves the connection until it closes, or until it is parked (then parked() is true).
    boost::asio::awaitable<void> run();

    bool parked() const noexcept { return parked_; }

    // Waits, without a coroutine, for a parked connection to become readable (or to be cancelled
    // by its deadline or a drain), then hands it to io_thread::serve again.
    static void wait_parked(std::unique_ptr<connection> self);

    // This connection was counted in its address's share (--max-connections-per-address) when
    // it was accepted: it gives the slot back when it closes.
    void adopt_address_slot() noexcept { holds_address_slot_ = true; }

    // Answers 503 at once and closes (too many connections open).
    boost::asio::awaitable<void> refuse();

    // Called by the owner's sweeper: cancels the pending operation when its deadline passed;
    // parks the connection when it has been idle since the previous sweep.
    void sweep(clock::time_point now, clock::duration park_after);

    // Called by the owner at shutdown: closes the connection when it is between requests, else
    // lets the request in progress finish with "Connection: close".
    void drain();

    // Intrusive list links of the owner's registry.
    connection* prev = nullptr;
    connection* next = nullptr;

  private:
    enum class read_status { request, closed, failed, parse_error, parked };

    using error_code = boost::beast::error_code;
    using tls_stream = boost::asio::ssl::stream<tcp_socket>;

    // The TCP socket, under TLS or not.
    tcp_socket& socket() noexcept { return tls_ ? tls_->next_layer() : plain_; }
    void set_parked(bool parked) noexcept;
    struct active_state;
    std::unique_ptr<active_state> make_active_state() const;
    bool read_on_wake();
    boost::asio::awaitable<bool> handshake();

    // Reads and parses until a request is whole (or refused, or the connection ends or parks);
    // writes the answers owed to pipelined requests before it waits for more bytes.
    boost::asio::awaitable<read_status> read_request(request_parser& parser,
                                                     boost::beast::error_code& parse_ec);
    enum class parse_step { request, error, more };
    parse_step parse_buffered(request_parser& parser, boost::beast::error_code& parse_ec);
    bool arm_read_deadline(const request_parser& parser);
    read_status at_eof(request_parser& parser, boost::beast::error_code& parse_ec);
    // Writes the responses owed: at once when the socket takes them whole (write_now), else
    // through the event loop (flush_pending).
    enum class write_result { done, failed, pending };
    write_result write_now();
    boost::asio::awaitable<bool> flush_pending();
    boost::asio::awaitable<bool> flush();
    boost::asio::awaitable<void> await_job(step& s, bool keep_alive);
    void append_response(const response& r, bool keep_alive);
    void log_request(api_code code, clock::time_point started);
    boost::asio::awaitable<void> close_gracefully();

    tcp_socket plain_;                 // the connection, when it is not under TLS
    std::unique_ptr<tls_stream> tls_;  // the connection, under TLS (--tls-cert)
    io_thread& owner_;
    // What only a connection with a coroutine needs (freed while it is parked).
    // The read buffer wipes what it frees (its requests carry passwords), and the responses
    // not yet written (tokens) are wiped with it, when the connection closes or parks.
    struct active_state {
        explicit active_state(std::size_t max_input) : in(max_input) {}
        active_state(const active_state&) = delete;
        active_state& operator=(const active_state&) = delete;
        ~active_state() { wipe(out); }
        boost::beast::basic_flat_buffer<wiping_allocator<char>> in;
        std::string out;  // responses not yet written (one write for a pipelined batch)
        request_head head;
    };
    std::unique_ptr<active_state> active_;
    clock::time_point deadline_ = clock::time_point::max();          // of the pending operation
    clock::time_point request_deadline_ = clock::time_point::max();  // of the request being read
    clock::time_point idle_since_{};    // when the connection last became idle
    boost::beast::error_code wake_ec_;  // how the parked wait ended
    std::uint64_t client_ = 0;          // the peer's address key (brute-force limits, fair hashing)
    std::string peer_;                  // the peer's address as text, for logs
    std::size_t requests_ = 0;
    api_code last_code_ = api_code::ok;  // of the response appended last (for the request log)
    bool idle_ = false;                  // waiting for the first byte of the next request
    bool draining_ = false;              // answer the request in progress, then close
    bool park_requested_ = false;        // the sweeper cancelled the idle read to park
    bool parked_ = false;                // no coroutine: waiting in wait_parked()
    bool woken_ = false;                 // run() resumes a parked connection
    bool holds_address_slot_ = false;    // counted in shared().per_address
};

}  // namespace authd::server
