// One table of brute-force counters (accounts' budgets, or addresses'), in memory: shards of a
// hash map, each bounded, keyed by attempt_limiter's 64-bit keys. Private to core/: the limiter's
// own view of the counts (attempt_limiter.hpp says what it guarantees).
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "authd/store/limit_store.hpp"

namespace authd::detail {

using limit_clock = std::chrono::steady_clock;

inline constexpr std::size_t shard_count = 16;  // enough that I/O threads rarely meet on one mutex

// Seconds to wait for a time left, rounded up, at least 1.
inline std::uint32_t wait_seconds(limit_clock::duration left) {
    const auto wait = std::chrono::ceil<std::chrono::seconds>(left).count();
    return static_cast<std::uint32_t>(std::max<std::int64_t>(1, wait));
}

// One table of counters (accounts or addresses): shards of a hash map, each bounded.
class counter_table {
  public:
    using clock = limit_clock;
    enum class settlement : std::uint8_t { failure, clear, release };

    struct entry {
        double failures = 0;  // after forgiveness up to `updated`
        clock::time_point updated;
        clock::time_point blocked_until;
        std::uint32_t pending = 0;  // admitted attempts not settled yet
    };

    counter_table(const limit_policy& policy, std::size_t max_entries)
        : policy_(policy), shard_capacity_(std::max<std::size_t>(1, max_entries / shard_count)) {}

    clock::time_point blocked_until(std::uint64_t key) const {
        auto& s = shard_of(key);
        const std::lock_guard lock(s.mutex);
        const auto it = s.entries.find(key);
        return it == s.entries.end() ? clock::time_point{} : it->second.blocked_until;
    }

    // What reserve() would answer, without reserving or making anything.
    std::uint32_t check(std::uint64_t key, clock::time_point now) const {
        auto& s = shard_of(key);
        const std::lock_guard lock(s.mutex);
        const auto it = s.entries.find(key);
        return it == s.entries.end() ? 0 : refusal(it->second, now);
    }

    // 0 when the attempt is admitted (and reserved), else the seconds to wait.
    std::uint32_t reserve(std::uint64_t key, clock::time_point now) {
        auto& s = shard_of(key);
        const std::lock_guard lock(s.mutex);
        auto it = s.entries.find(key);
        if (it == s.entries.end()) {
            make_room(s, now);
            s.entries.emplace(key, entry{0, now, {}, 1});
            return 0;
        }
        auto& e = it->second;
        if (const auto wait = refusal(e, now); wait > 0) {
            return wait;
        }
        ++e.pending;
        return 0;
    }

    // Ends an attempt (reserved: one that reserve() admitted).
    void settle(std::uint64_t key, settlement how, bool reserved, clock::time_point now) {
        auto& s = shard_of(key);
        const std::lock_guard lock(s.mutex);
        auto it = s.entries.find(key);
        if (it == s.entries.end()) {
            if (how != settlement::failure) {
                return;
            }
            make_room(s, now);
            it = s.entries.emplace(key, entry{0, now, {}, 0}).first;
        }
        auto& e = it->second;
        if (reserved && e.pending > 0) {
            --e.pending;
        }
        switch (how) {
            case settlement::failure:
                e.failures = forgiven(e, now) + 1;
                e.updated = now;
                if (e.failures > policy_.free_failures) {
                    e.blocked_until = now + backoff(e.failures - policy_.free_failures);
                }
                break;
            case settlement::clear:
                e.failures = 0;
                e.updated = now;
                e.blocked_until = {};
                break;
            case settlement::release:
                break;
        }
        // Nothing left to remember: the entry goes, so that it holds no room.
        if (e.pending == 0 && e.blocked_until <= now && forgiven(e, now) <= 0) {
            s.entries.erase(it);
        }
    }

    // Takes the store's word for a count (the node's view of it).
    void assign(std::uint64_t key, const counter_view& v, clock::time_point now) {
        auto& s = shard_of(key);
        const std::lock_guard lock(s.mutex);
        auto it = s.entries.find(key);
        const auto until = v.blocked_seconds > 0
                               ? now + std::chrono::duration_cast<clock::duration>(
                                           std::chrono::duration<double>(v.blocked_seconds))
                               : clock::time_point{};
        if (it == s.entries.end()) {
            if (v.failures <= 0 && v.blocked_seconds <= 0) {
                return;
            }
            make_room(s, now);
            it = s.entries.emplace(key, entry{}).first;
        }
        it->second.failures = v.failures;
        it->second.updated = now;
        it->second.blocked_until = until;
        if (it->second.pending == 0 && v.failures <= 0 && v.blocked_seconds <= 0) {
            s.entries.erase(it);
        }
    }

    std::size_t size() const {
        std::size_t n = 0;
        for (const auto& s : shards_) {
            const std::lock_guard lock(s.mutex);
            n += s.entries.size();
        }
        return n;
    }

    std::uint64_t protected_evictions() const {
        return protected_evictions_.load(std::memory_order_relaxed);
    }

  private:
    struct shard {
        mutable std::mutex mutex;
        std::unordered_map<std::uint64_t, entry> entries;
        std::size_t cursor = 0;  // where the next eviction scan starts
    };

    shard& shard_of(std::uint64_t key) const { return shards_[key % shard_count]; }

    // Failures left after forgiving one per forgive_every since the last update.
    double forgiven(const entry& e, clock::time_point now) const {
        return forgiven_failures(e.failures, std::chrono::duration<double>(now - e.updated).count(),
                                 policy_);
    }

    clock::duration backoff(double excess) const {
        return std::chrono::duration_cast<clock::duration>(
            std::chrono::duration<double>(backoff_seconds(excess, policy_)));
    }

    // The seconds an attempt on e must wait, 0 when it may go now. Admitted one after the other,
    // attempts go on while the failures (with those in flight counted as failures) are at most
    // the free ones; past them, one at a time, each after its wait. So in flight beyond the free
    // failures there is never more than one.
    std::uint32_t refusal(const entry& e, clock::time_point now) const {
        if (e.blocked_until > now) {
            return wait_seconds(e.blocked_until - now);
        }
        if (e.pending > 0 && forgiven(e, now) + e.pending > policy_.free_failures) {
            return 1;
        }
        return 0;
    }

    // An entry whose loss would give its key a fresh budget beyond the free failures: past them
    // (or waiting), or with an attempt in flight.
    bool protects(const entry& e, clock::time_point now) const {
        return e.pending > 0 || e.blocked_until > now || forgiven(e, now) > policy_.free_failures;
    }

    // Bounded memory: when a shard is full, the stalest unprotected entry of a sample goes
    // (approximate LRU, O(1) per insert). Entries are made only by attempts admitted to hashing,
    // so cycling keys costs the attacker a hash each, and evicts only entries that have not used
    // up their free failures. Only when a whole sample is protected (a table far too small for
    // the traffic) does the stalest protected one go, counted in protected_evictions().
    void make_room(shard& s, clock::time_point now) {
        if (s.entries.size() < shard_capacity_) {
            return;
        }
        constexpr std::size_t sample = 8;
        constexpr std::size_t widest_sample = 64;
        const auto buckets = s.entries.bucket_count();
        auto victim = s.entries.end();    // the stalest unprotected one seen
        auto fallback = s.entries.end();  // the stalest protected one seen
        std::size_t seen = 0;
        for (std::size_t i = 0; i < buckets && seen < widest_sample; ++i) {
            if (seen >= sample && victim != s.entries.end()) {
                break;
            }
            const auto b = (s.cursor + i) % buckets;
            for (auto it = s.entries.begin(b); it != s.entries.end(b); ++it, ++seen) {
                auto& best = protects(it->second, now) ? fallback : victim;
                if (best == s.entries.end() || it->second.updated < best->second.updated) {
                    best = s.entries.find(it->first);
                }
            }
        }
        s.cursor = (s.cursor + 1 + seen) % std::max<std::size_t>(1, buckets);
        if (victim == s.entries.end()) {
            victim = fallback;
            protected_evictions_.fetch_add(1, std::memory_order_relaxed);
        }
        if (victim != s.entries.end()) {
            s.entries.erase(victim);
        }
    }

    limit_policy policy_;
    std::size_t shard_capacity_;
    mutable std::array<shard, shard_count> shards_;
    std::atomic<std::uint64_t> protected_evictions_{0};
};

}  // namespace authd::detail
