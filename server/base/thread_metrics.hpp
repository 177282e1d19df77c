// The counters of one I/O thread for /metrics (Prometheus text format, names prefixed authd_):
// each I/O thread has its own and is its only writer (a relaxed load and store, no locked
// instruction, no cache line shared with another thread on the hot path); the registry
// (app/metrics.hpp) sums them when /metrics is read.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

#include "authd/http/api.hpp"
#include "authd/http/request_parser.hpp"

namespace authd::server {

// The body codes authd sends, in a fixed order (a metrics label each).
inline constexpr std::array<api_code, 11> counted_codes = {
    api_code::ok,
    api_code::bad_request,
    api_code::invalid_token,
    api_code::field_missing,
    api_code::not_found,
    api_code::method_not_allowed,
    api_code::payload_too_large,
    api_code::too_many_attempts,
    api_code::headers_too_large,
    api_code::internal_error,
    api_code::busy,
};

// Upper bounds of the login latency histogram, in seconds.
inline constexpr std::array<double, 12> login_buckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                         0.5,   1,    2.5,   5,    10,  30};

struct thread_metrics {
    using counter = std::atomic<std::uint64_t>;

    std::array<std::array<counter, counted_codes.size()>, route_count> requests{};
    std::array<counter, login_buckets.size() + 1> login_latency{};  // the last is +Inf
    counter login_latency_micros{0};
    counter rate_limited{0};                     // logins refused with 429
    counter connections_refused{0};              // over --max-connections
    counter connections_refused_per_address{0};  // over --max-connections-per-address
    std::atomic<std::int64_t> connections_open{0};
    std::atomic<std::int64_t> connections_parked{0};  // idle, without a coroutine or buffers

    // Only the owning thread calls these.
    static void bump(counter& c, std::uint64_t n = 1) noexcept {
        c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void count_request(route r, api_code code) noexcept;
    void observe_login(std::chrono::steady_clock::duration d) noexcept;
};

}  // namespace authd::server
