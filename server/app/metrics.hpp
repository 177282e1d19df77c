// /metrics: every I/O thread's counters (base/thread_metrics.hpp) summed, and the gauges of the
// hash pool, the cache and the brute-force limits, in Prometheus text format (names prefixed
// authd_).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

#include "base/thread_metrics.hpp"

namespace authd {
class attempt_limiter;
class login_service;
}  // namespace authd

namespace authd::server {

class worker_pool;

// All threads' metrics, and what the gauges are read from.
class metrics_registry {
  public:
    metrics_registry(const worker_pool& pool, const login_service& service,
                     const attempt_limiter& limiter)
        : pool_(pool), service_(service), limiter_(limiter) {}

    // A new block for one I/O thread; lives as long as the registry.
    thread_metrics& add_thread();

    // The Prometheus text exposition (format 0.0.4) of everything.
    std::string render() const;

  private:
    const worker_pool& pool_;
    const login_service& service_;
    const attempt_limiter& limiter_;
    mutable std::mutex mutex_;  // guards threads_ (grown at start only)
    std::deque<thread_metrics> threads_;
};

}  // namespace authd::server
