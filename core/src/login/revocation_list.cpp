#include "authd/login/revocation_list.hpp"

#include "authd/crypto/jwt.hpp"

namespace authd {

// The map is made one larger than the capacity, so that its own eviction never runs: this class
// refuses additions first.
revocation_list::revocation_list(std::size_t capacity)
    : capacity_(capacity), set_(make_user_cache(capacity + 1)) {}

bool revocation_list::revoked(std::string_view jti) const {
    thread_local std::string unused;
    return !jti.empty() && set_->find(jti, unused);
}

bool revocation_list::add(std::string_view jti, std::int64_t exp, std::int64_t now) {
    const std::lock_guard lock(mutex_);
    if (by_exp_.size() >= capacity_) {
        purge_locked(now);
        if (by_exp_.size() >= capacity_) {
            return false;
        }
    }
    std::string value;
    if (set_->find(jti, value)) {
        return true;  // revoked already
    }
    set_->put(jti, "");
    by_exp_.emplace(exp, std::string(jti));
    return true;
}

void revocation_list::purge(std::int64_t now) {
    const std::lock_guard lock(mutex_);
    purge_locked(now);
}

// A token verifies until exp + the clock leeway (check_token_times): its revocation lasts as long.
void revocation_list::purge_locked(std::int64_t now) {
    const auto end = by_exp_.upper_bound(now - token_clock_leeway_seconds);
    for (auto it = by_exp_.begin(); it != end; ++it) {
        set_->erase(it->second);
    }
    by_exp_.erase(by_exp_.begin(), end);
}

std::size_t revocation_list::size() const {
    const std::lock_guard lock(mutex_);
    return by_exp_.size();
}

}  // namespace authd
