#include "authd/login/attempt_limiter.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <stdexcept>
#include <vector>

#include <sodium.h>

#include "authd/crypto/sodium.hpp"

namespace authd {

namespace {

constexpr std::size_t shard_count = 16;  // enough that I/O threads rarely meet on one mutex

struct entry {
    double failures = 0;  // after forgiveness up to `updated`
    attempt_limiter::clock::time_point updated;
    attempt_limiter::clock::time_point blocked_until;
    std::uint32_t pending = 0;  // admitted attempts not settled yet
};

std::uint32_t wait_seconds(attempt_limiter::clock::duration left) {
    const auto wait = std::chrono::ceil<std::chrono::seconds>(left).count();
    return static_cast<std::uint32_t>(std::max<std::int64_t>(1, wait));
}

}  // namespace

// One table of counters (accounts or addresses): shards of a hash map, each bounded.
class attempt_limiter::table {
  public:
    enum class settlement : std::uint8_t { failure, clear, release };

    table(const limit_policy& policy, std::size_t max_entries)
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
        const auto elapsed = std::chrono::duration<double>(now - e.updated).count();
        const auto per = std::chrono::duration<double>(policy_.forgive_every).count();
        return std::max(0.0, e.failures - elapsed / per);
    }

    // first_backoff doubled for each failure past the free ones, at most max_backoff.
    clock::duration backoff(double excess) const {
        const double doublings = std::min(std::ceil(excess) - 1, 30.0);
        const double seconds = std::min(
            std::chrono::duration<double>(policy_.first_backoff).count() * std::exp2(doublings),
            std::chrono::duration<double>(policy_.max_backoff).count());
        return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(seconds));
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

std::uint64_t address_key(std::uint32_t ipv4) noexcept {
    return (std::uint64_t{1} << 63) | ipv4;  // tagged: no IPv6 /64 maps here in practice
}

std::uint64_t address_key(const std::array<unsigned char, 16>& ip) noexcept {
    static constexpr unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(ip.begin(), ip.begin() + 12, mapped)) {
        return address_key((std::uint32_t{ip[12]} << 24) | (std::uint32_t{ip[13]} << 16) |
                           (std::uint32_t{ip[14]} << 8) | ip[15]);
    }
    std::uint64_t prefix = 0;
    for (int i = 0; i < 8; ++i) {
        prefix = (prefix << 8) | ip[static_cast<std::size_t>(i)];
    }
    return prefix & ~(std::uint64_t{1} << 63);
}

attempt_limiter::attempt_limiter(const limiter_config& config)
    : accounts_(std::make_unique<table>(config.account, config.max_entries)),
      addresses_(std::make_unique<table>(config.address, config.max_entries)),
      account_enabled_(config.account.enabled()),
      address_enabled_(config.address.enabled()) {
    init_sodium();
    crypto_shorthash_keygen(hash_key_);
}

attempt_limiter::~attempt_limiter() {
    sodium_memzero(hash_key_, sizeof hash_key_);
}

std::uint64_t attempt_limiter::user_key(std::string_view user) const noexcept {
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, reinterpret_cast<const unsigned char*>(user.data()), user.size(),
                     hash_key_);
    std::uint64_t key = 0;
    for (const auto b : out) {
        key = (key << 8) | b;
    }
    return key;
}

std::uint32_t attempt_limiter::retry_after(std::string_view user, std::uint64_t address,
                                           clock::time_point now) const {
    auto until = clock::time_point{};
    if (account_enabled_) {
        until = accounts_->blocked_until(user_key(user));
    }
    if (address_enabled_) {
        until = std::max(until, addresses_->blocked_until(address));
    }
    return until <= now ? 0 : wait_seconds(until - now);
}

std::uint32_t attempt_limiter::admit(std::string_view user, std::uint64_t address,
                                     clock::time_point now) {
    // A refusal makes no entry (and so evicts none): both counts are checked, waits and attempts
    // in flight alike, before either is reserved. (Only two attempts racing between the check and
    // the reservation can still make and drop an entry, never more than hashes admitted.)
    const auto account = user_key(user);
    const auto account_wait = account_enabled_ ? accounts_->check(account, now) : 0;
    const auto address_wait = address_enabled_ ? addresses_->check(address, now) : 0;
    if (account_wait > 0 || address_wait > 0) {
        return std::max(account_wait, address_wait);
    }
    if (account_enabled_) {
        if (const auto wait = accounts_->reserve(account, now); wait > 0) {
            return wait;
        }
    }
    if (address_enabled_) {
        if (const auto wait = addresses_->reserve(address, now); wait > 0) {
            if (account_enabled_) {
                accounts_->settle(account, table::settlement::release, true, now);
            }
            return wait;
        }
    }
    return 0;
}

void attempt_limiter::settle(std::string_view user, std::uint64_t address, outcome result,
                             clock::time_point now) {
    using s = table::settlement;
    if (account_enabled_) {
        const auto how = result == outcome::failure   ? s::failure
                         : result == outcome::success ? s::clear
                                                      : s::release;
        accounts_->settle(user_key(user), how, true, now);
    }
    if (address_enabled_) {
        addresses_->settle(address, result == outcome::failure ? s::failure : s::release, true,
                           now);
    }
}

void attempt_limiter::record_failure(std::string_view user, std::uint64_t address,
                                     clock::time_point now) {
    if (account_enabled_) {
        accounts_->settle(user_key(user), table::settlement::failure, false, now);
    }
    if (address_enabled_) {
        addresses_->settle(address, table::settlement::failure, false, now);
    }
}

void attempt_limiter::record_success(std::string_view user, clock::time_point now) {
    if (account_enabled_) {
        accounts_->settle(user_key(user), table::settlement::clear, false, now);
    }
}

std::size_t attempt_limiter::account_entries() const {
    return accounts_->size();
}
std::size_t attempt_limiter::address_entries() const {
    return addresses_->size();
}
std::uint64_t attempt_limiter::protected_evictions() const {
    return accounts_->protected_evictions() + addresses_->protected_evictions();
}

}  // namespace authd
