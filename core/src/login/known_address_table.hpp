// The addresses each account logged in from lately, in memory (the owner's budget:
// attempt_limiter.hpp), keyed by attempt_limiter's 64-bit keys. Private to core/.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "counter_table.hpp"

namespace authd::detail {

// The addresses each account logged in from lately: sharded like the counters, each account's
// list bounded (the most recent kept), the accounts bounded by max_entries.
class known_address_table {
  public:
    using clock = limit_clock;

    known_address_table(std::size_t max_entries, std::size_t per_account, clock::duration window)
        : shard_capacity_(std::max<std::size_t>(1, max_entries / shard_count)),
          per_account_(std::max<std::size_t>(1, per_account)),
          window_(window) {}

    bool known(std::uint64_t account, std::uint64_t address, clock::time_point now) const {
        auto& s = shard_of(account);
        const std::lock_guard lock(s.mutex);
        const auto it = s.accounts.find(account);
        if (it == s.accounts.end()) {
            return false;
        }
        return std::any_of(it->second.begin(), it->second.end(), [&](const seen& a) {
            return a.address == address && now - a.last < window_;
        });
    }

    void learn(std::uint64_t account, std::uint64_t address, clock::time_point when) {
        auto& s = shard_of(account);
        const std::lock_guard lock(s.mutex);
        auto it = s.accounts.find(account);
        if (it == s.accounts.end()) {
            if (s.accounts.size() >= shard_capacity_) {
                evict(s);
            }
            it = s.accounts.emplace(account, std::vector<seen>{}).first;
        }
        auto& list = it->second;
        const auto same = std::find_if(list.begin(), list.end(),
                                       [&](const seen& a) { return a.address == address; });
        if (same != list.end()) {
            same->last = std::max(same->last, when);
            return;
        }
        if (list.size() >= per_account_) {
            // The least recent one goes.
            list.erase(std::min_element(list.begin(), list.end(), [](const seen& a, const seen& b) {
                return a.last < b.last;
            }));
        }
        list.push_back({address, when});
    }

    std::size_t size() const {
        std::size_t n = 0;
        for (const auto& s : shards_) {
            const std::lock_guard lock(s.mutex);
            n += s.accounts.size();
        }
        return n;
    }

  private:
    struct seen {
        std::uint64_t address;
        clock::time_point last;
    };
    struct shard {
        mutable std::mutex mutex;
        std::unordered_map<std::uint64_t, std::vector<seen>> accounts;
        std::size_t cursor = 0;
    };

    shard& shard_of(std::uint64_t key) const { return shards_[key % shard_count]; }

    // A full shard loses one account's list, the stalest of a small sample. Lists are made only
    // by successful logins, so cycling them out costs an attacker a right password per entry.
    static void evict(shard& s) {
        const auto buckets = s.accounts.bucket_count();
        auto victim = s.accounts.end();
        std::size_t seen_lists = 0;
        for (std::size_t i = 0; i < buckets && seen_lists < 8; ++i) {
            const auto b = (s.cursor + i) % buckets;
            for (auto it = s.accounts.begin(b); it != s.accounts.end(b); ++it, ++seen_lists) {
                const auto last = [](const std::vector<seen>& l) {
                    clock::time_point t{};
                    for (const auto& a : l) {
                        t = std::max(t, a.last);
                    }
                    return t;
                };
                if (victim == s.accounts.end() || last(it->second) < last(victim->second)) {
                    victim = s.accounts.find(it->first);
                }
            }
        }
        s.cursor = (s.cursor + 1 + seen_lists) % std::max<std::size_t>(1, buckets);
        if (victim != s.accounts.end()) {
            s.accounts.erase(victim);
        }
    }

    std::size_t shard_capacity_;
    std::size_t per_account_;
    clock::duration window_;
    mutable std::array<shard, shard_count> shards_;
};

}  // namespace authd::detail
