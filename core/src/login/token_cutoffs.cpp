#include "authd/login/token_cutoffs.hpp"

#include <algorithm>
#include <cstring>

namespace authd {

namespace {

std::string encode(std::int64_t value) {
    std::string out(sizeof value, '\0');
    std::memcpy(out.data(), &value, sizeof value);
    return out;
}

}  // namespace

// The map is made one larger than the capacity, so that its own eviction never runs: this class
// chooses what goes.
token_cutoff_map::token_cutoff_map(std::size_t capacity, std::int64_t lifetime)
    : capacity_(std::max<std::size_t>(capacity, 1)),
      lifetime_(lifetime),
      map_(make_user_cache(capacity_ + 1)) {}

std::int64_t token_cutoff_map::not_before(std::string_view user) const {
    if (count_.load(std::memory_order_acquire) == 0) {
        return floor_.load(std::memory_order_acquire);
    }
    // The entry first, then the floor: raise() stores the floor before it erases the entry that
    // becomes it, so a reader that misses the entry (erased) sees the floor that replaced it.
    std::int64_t cutoff = 0;
    thread_local std::string value;
    if (map_->find(user, value) && value.size() == sizeof cutoff) {
        std::memcpy(&cutoff, value.data(), sizeof cutoff);
    }
    return std::max(cutoff, floor_.load(std::memory_order_acquire));
}

bool token_cutoff_map::voids(std::string_view user, std::optional<std::int64_t> iat) const {
    const auto cutoff = not_before(user);
    return cutoff != 0 && (!iat || *iat < cutoff);
}

void token_cutoff_map::raise(std::string_view user, std::int64_t not_before, std::int64_t now) {
    const std::lock_guard lock(mutex_);
    if (not_before <= now - lifetime_ || not_before <= floor_.load(std::memory_order_relaxed)) {
        return;  // voids nothing that is not void already
    }
    if (const auto it = by_user_.find(user); it != by_user_.end()) {
        if (it->second >= not_before) {
            return;
        }
        by_time_.erase({it->second, it->first});
        it->second = not_before;
        by_time_.emplace(not_before, it->first);
        map_->put(user, encode(not_before));
        return;
    }
    if (by_user_.size() >= capacity_) {
        purge_locked(now);
    }
    if (by_user_.size() >= capacity_) {
        // Full of cutoffs that still matter: the oldest becomes everyone's.
        const auto oldest = *by_time_.begin();
        floor_.store(std::max(floor_.load(std::memory_order_relaxed), oldest.first),
                     std::memory_order_release);
        erase_locked(oldest.second, oldest.first);
        if (not_before <= oldest.first) {
            return;
        }
    }
    const auto [it, added] = by_user_.emplace(std::string(user), not_before);
    by_time_.emplace(not_before, it->first);
    map_->put(user, encode(not_before));
    count_.store(by_user_.size(), std::memory_order_release);
}

void token_cutoff_map::purge(std::int64_t now) {
    const std::lock_guard lock(mutex_);
    purge_locked(now);
}

void token_cutoff_map::purge_locked(std::int64_t now) {
    while (!by_time_.empty() && by_time_.begin()->first <= now - lifetime_) {
        const auto oldest = *by_time_.begin();
        erase_locked(oldest.second, oldest.first);
    }
    if (floor_.load(std::memory_order_relaxed) <= now - lifetime_) {
        floor_.store(0, std::memory_order_release);
    }
}

void token_cutoff_map::erase_locked(const std::string& user, std::int64_t not_before) {
    map_->erase(user);
    by_time_.erase({not_before, user});
    by_user_.erase(user);
    count_.store(by_user_.size(), std::memory_order_release);
}

std::size_t token_cutoff_map::size() const {
    const std::lock_guard lock(mutex_);
    return by_user_.size();
}

}  // namespace authd
