// The key ring authd uses now, swapped on reload (SIGHUP).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "authd/crypto/keyring.hpp"

namespace authd {

// The key ring authd uses now, replaced on reload (SIGHUP) while I/O threads and hash workers keep
// signing and verifying. Reading it costs one relaxed atomic load per call (a plain load on x86):
// each thread caches the ring it saw last and takes the mutex only after a replace() (GCC 12's
// std::atomic<std::shared_ptr> takes a lock on every load).
class keyring_holder {
  public:
    explicit keyring_holder(std::shared_ptr<const keyring> initial);
    ~keyring_holder();
    keyring_holder(const keyring_holder&) = delete;
    keyring_holder& operator=(const keyring_holder&) = delete;

    // The current ring. The reference stays valid until this thread calls get() or current()
    // again (on any holder): the thread's cache keeps the ring alive until then. The cheapest
    // way in: no reference count is touched.
    const keyring& get() const;
    // The current ring, kept alive by the caller (copies a shared_ptr: an atomic increment).
    std::shared_ptr<const keyring> current() const;

    // Makes next the current ring. Threads see it at their next get()/current(); a token being
    // checked meanwhile is checked with the ring it started with. Thread-safe.
    void replace(std::shared_ptr<const keyring> next);

    // Shortcuts for get().sign(...) and get().verify(...), so that a holder can stand where a
    // hs256_key stood.
    std::string sign(std::string_view user, std::int64_t exp,
                     std::optional<std::int64_t> iat = std::nullopt) const {
        return get().sign(user, exp, iat);
    }
    std::optional<token_claims> verify(std::string_view token, std::int64_t now,
                                       token_error* error = nullptr) const {
        return get().verify(token, now, error);
    }

  private:
    const std::shared_ptr<const keyring>& cached() const;

    const std::uint64_t id_;
    std::atomic<std::uint64_t> generation_{1};
    mutable std::mutex mutex_;
    std::shared_ptr<const keyring> ring_;  // guarded by mutex_
};

}  // namespace authd
