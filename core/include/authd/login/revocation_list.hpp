// Revoked tokens (/logout) in memory, checked by /verify on I/O threads: lookups never take a
// lock (the same lock-free map as the user cache). A revocation lasts until the token would
// have expired (exp + token_clock_leeway_seconds); expired ones are purged. Bounded: when full of
// unexpired revocations, a new one is refused (the caller answers 503) rather than forgetting an
// old one, which would make a revoked token valid again.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "authd/login/user_cache.hpp"

namespace authd {

class revocation_list {
  public:
    explicit revocation_list(std::size_t capacity);

    // True when jti is revoked. Never blocks.
    bool revoked(std::string_view jti) const;

    // Adds a revocation until exp. False when the list is full of unexpired ones.
    bool add(std::string_view jti, std::int64_t exp, std::int64_t now);

    // Drops revocations whose token cannot verify any more: exp + leeway is now or earlier.
    void purge(std::int64_t now);

    std::size_t size() const;

  private:
    void purge_locked(std::int64_t now);

    std::size_t capacity_;
    std::unique_ptr<user_cache> set_;  // jti -> "" (the value is unused)
    mutable std::mutex mutex_;         // writers only
    std::multimap<std::int64_t, std::string> by_exp_;
};

}  // namespace authd
