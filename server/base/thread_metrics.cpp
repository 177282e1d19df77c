#include "base/thread_metrics.hpp"

namespace authd::server {

namespace {

std::size_t code_slot(api_code code) noexcept {
    for (std::size_t i = 0; i < counted_codes.size(); ++i) {
        if (counted_codes[i] == code) {
            return i;
        }
    }
    return counted_codes.size() - 1;
}

}  // namespace

void thread_metrics::count_request(route r, api_code code) noexcept {
    bump(requests[static_cast<std::size_t>(r)][code_slot(code)]);
}

void thread_metrics::observe_login(std::chrono::steady_clock::duration d) noexcept {
    const double seconds = std::chrono::duration<double>(d).count();
    std::size_t i = 0;
    while (i < login_buckets.size() && seconds > login_buckets[i]) {
        ++i;
    }
    bump(login_latency[i]);
    bump(login_latency_micros,
         static_cast<std::uint64_t>(
             std::chrono::duration_cast<std::chrono::microseconds>(d).count()));
}

}  // namespace authd::server
