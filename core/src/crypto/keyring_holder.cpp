#include "authd/crypto/keyring_holder.hpp"

#include <stdexcept>

namespace authd {

namespace {

std::atomic<std::uint64_t> next_holder_id{1};

// The ring this thread saw last, and of which holder and generation.
struct cached_ring {
    std::uint64_t holder = 0;
    std::uint64_t generation = 0;
    std::shared_ptr<const keyring> ring;
};

thread_local cached_ring tls_ring;

}  // namespace

keyring_holder::keyring_holder(std::shared_ptr<const keyring> initial)
    : id_(next_holder_id.fetch_add(1)), ring_(std::move(initial)) {
    if (!ring_) {
        throw std::invalid_argument("keyring_holder: no key ring");
    }
}

// Threads' caches are not touched: a holder with static storage outlives the main thread's
// thread_locals, and writing to one then is a use-after-free (found by tests/fuzz; reproducer
// corpus/crash_keyring_holder_static_destroyed_after_tls_cache). Holder ids are never reused, so
// a stale cache is never taken for another holder's; it lets go at its thread's next get() or end.
keyring_holder::~keyring_holder() = default;

const std::shared_ptr<const keyring>& keyring_holder::cached() const {
    // Relaxed is enough: the ring itself is read under the mutex below, never through this load.
    const auto generation = generation_.load(std::memory_order_relaxed);
    if (tls_ring.holder == id_ && tls_ring.generation == generation) {
        return tls_ring.ring;
    }
    auto previous = std::move(tls_ring.ring);  // released after the lock, if it was the last
    const std::lock_guard lock(mutex_);
    tls_ring.ring = ring_;
    tls_ring.generation = generation_.load(std::memory_order_relaxed);
    tls_ring.holder = id_;
    return tls_ring.ring;
}

const keyring& keyring_holder::get() const {
    return *cached();
}

std::shared_ptr<const keyring> keyring_holder::current() const {
    return cached();
}

void keyring_holder::replace(std::shared_ptr<const keyring> next) {
    if (!next) {
        throw std::invalid_argument("keyring_holder: no key ring");
    }
    {
        const std::lock_guard lock(mutex_);
        ring_.swap(next);
        generation_.fetch_add(1, std::memory_order_relaxed);
    }
    // next now holds the old ring: destroyed here, outside the lock, unless threads still use it.
}

}  // namespace authd
