// Per-user token cutoffs in memory, checked by /verify on I/O threads: a user's tokens issued (iat)
// before the user's cutoff are void (the password was changed, or the user removed). The store
// holds the cutoffs (user_store::token_cutoffs); this is its copy, kept current by the change feed
// (PostgreSQL) or the periodic store check (SQLite).
//
// Lookups never take a lock (the lock-free map of the user cache), and cost one atomic load while
// no user has a cutoff. Bounded: an entry is dropped once every token it voids has expired
// (not_before + lifetime); when the map is full of entries that still void tokens, the oldest is
// dropped and its cutoff becomes a floor for every user: tokens of anyone issued before it are
// void. A wider cut, never a narrower one: no voided token ever becomes valid again.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "authd/login/user_cache.hpp"

namespace authd {

class token_cutoff_map {
  public:
    // lifetime: how long after its not_before an entry may still void a token (the token lifetime
    // and the clock leeway), in seconds.
    token_cutoff_map(std::size_t capacity, std::int64_t lifetime);

    // The first iat that user's tokens may carry; 0 when there is no cutoff. Never blocks.
    std::int64_t not_before(std::string_view user) const;

    // True when a token of user issued at iat is void. A token without iat (from an authd before
    // iat) is void for a user with a cutoff: it was issued before any cutoff. Never blocks.
    bool voids(std::string_view user, std::optional<std::int64_t> iat) const;

    // Raises user's cutoff to not_before (never lowers it). Ignored when it voids nothing any more
    // at now (unix seconds).
    void raise(std::string_view user, std::int64_t not_before, std::int64_t now);

    // Drops the entries (and the floor) that void nothing any more at now.
    void purge(std::int64_t now);

    std::size_t size() const;

  private:
    void purge_locked(std::int64_t now);
    void erase_locked(const std::string& user, std::int64_t not_before);

    const std::size_t capacity_;
    const std::int64_t lifetime_;
    std::unique_ptr<user_cache> map_;    // user -> not_before (8 bytes, native order)
    std::atomic<std::size_t> count_{0};  // entries in map_
    std::atomic<std::int64_t> floor_{0};
    mutable std::mutex mutex_;  // writers only
    std::map<std::string, std::int64_t, std::less<>> by_user_;
    std::set<std::pair<std::int64_t, std::string>> by_time_;
};

}  // namespace authd
