#include "authd/store/limit_store.hpp"

#include <algorithm>
#include <cmath>

namespace authd {

std::string_view budget_name(limit_budget budget) noexcept {
    switch (budget) {
        case limit_budget::account:
            return "account";
        case limit_budget::known_address:
            return "known_address";
        case limit_budget::address:
            return "address";
        case limit_budget::none:
            break;
    }
    return "none";
}

double forgiven_failures(double failures, double elapsed_seconds,
                         const limit_policy& policy) noexcept {
    const auto per = std::chrono::duration<double>(policy.forgive_every).count();
    if (per <= 0) {
        return failures;
    }
    return std::max(0.0, failures - std::max(0.0, elapsed_seconds) / per);
}

double backoff_seconds(double excess, const limit_policy& policy) noexcept {
    const double doublings = std::clamp(std::ceil(excess) - 1, 0.0, 30.0);
    return std::min(
        std::chrono::duration<double>(policy.first_backoff).count() * std::exp2(doublings),
        std::chrono::duration<double>(policy.max_backoff).count());
}

}  // namespace authd
