#include "authd/store/limit_store.hpp"

#include <algorithm>
#include <cmath>

#include <sodium.h>

namespace authd {

account_digest account_digest::of(std::string_view name) noexcept {
    account_digest d;
    static_assert(sizeof d.bytes == crypto_hash_sha256_BYTES);
    crypto_hash_sha256(d.bytes.data(), reinterpret_cast<const unsigned char*>(name.data()),
                       name.size());
    return d;
}

std::string account_digest::hex() const {
    std::string out(2 * bytes.size(), '\0');
    sodium_bin2hex(out.data(), out.size() + 1, bytes.data(), bytes.size());
    return out;
}

std::optional<account_digest> account_digest::from_hex(std::string_view hex) noexcept {
    account_digest d;
    if (hex.size() != 2 * d.bytes.size()) {
        return std::nullopt;
    }
    std::size_t length = 0;
    const char* end = nullptr;
    if (sodium_hex2bin(d.bytes.data(), d.bytes.size(), hex.data(), hex.size(), nullptr, &length,
                       &end) != 0 ||
        length != d.bytes.size() || end != hex.data() + hex.size()) {
        return std::nullopt;
    }
    return d;
}

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
