#include "authd/attempt_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include <sodium.h>

namespace authd {

namespace {

constexpr std::size_t shard_count = 16;  // enough that I/O threads rarely meet on one mutex

struct entry {
    double failures = 0;  // after forgiveness up to `updated`
    attempt_limiter::clock::time_point updated;
    attempt_limiter::clock::time_point blocked_until;
};

}  // namespace

// One table of counters (accounts or addresses): shards of a hash map, each bounded.
class attempt_limiter::table {
  public:
    table(const limit_policy& policy, std::size_t max_entries)
        : policy_(policy), shard_capacity_(std::max<std::size_t>(1, max_entries / shard_count)) {}

    clock::time_point blocked_until(std::uint64_t key) const {
        auto& s = shard_of(key);
        const std::lock_guard lock(s.mutex);
        const auto it = s.entries.find(key);
        return it == s.entries.end() ? clock::time_point{} : it->second.blocked_until;
    }

    void failure(std::uint64_t key, clock::time_point now) {
        auto& s = shard_of(key);
        const std::lock_guard lock(s.mutex);
        auto it = s.entries.find(key);
        if (it == s.entries.end()) {
            if (s.entries.size() >= shard_capacity_) {
                evict_one(s, key);
            }
            it = s.entries.emplace(key, entry{0, now, {}}).first;
        }
        auto& e = it->second;
        e.failures = forgiven(e, now) + 1;
        e.updated = now;
        if (e.failures > policy_.free_failures) {
            e.blocked_until = now + backoff(e.failures - policy_.free_failures);
        }
    }

    void clear(std::uint64_t key) {
        auto& s = shard_of(key);
        const std::lock_guard lock(s.mutex);
        s.entries.erase(key);
    }

    std::size_t size() const {
        std::size_t n = 0;
        for (const auto& s : shards_) {
            const std::lock_guard lock(s.mutex);
            n += s.entries.size();
        }
        return n;
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

    // Bounded memory: when a shard is full, the stalest of a few entries goes (approximate LRU,
    // O(1) per insert). An attacker cycling through keys only evicts other idle keys.
    static void evict_one(shard& s, std::uint64_t incoming) {
        const auto buckets = s.entries.bucket_count();
        auto victim = s.entries.end();
        std::size_t seen = 0;
        for (std::size_t i = 0; i < buckets && seen < 8; ++i) {
            const auto b = (s.cursor + i) % buckets;
            for (auto it = s.entries.begin(b); it != s.entries.end(b) && seen < 8; ++it, ++seen) {
                if (victim == s.entries.end() || it->second.updated < victim->second.updated) {
                    victim = s.entries.find(it->first);
                }
            }
        }
        s.cursor = (s.cursor + 1 + incoming) % std::max<std::size_t>(1, buckets);
        if (victim != s.entries.end()) {
            s.entries.erase(victim);
        }
    }

    limit_policy policy_;
    std::size_t shard_capacity_;
    mutable std::array<shard, shard_count> shards_;
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
    if (sodium_init() < 0) {
        throw std::runtime_error("libsodium could not be initialised");
    }
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
    if (until <= now) {
        return 0;
    }
    const auto wait = std::chrono::ceil<std::chrono::seconds>(until - now).count();
    return static_cast<std::uint32_t>(std::max<std::int64_t>(1, wait));
}

void attempt_limiter::record_failure(std::string_view user, std::uint64_t address,
                                     clock::time_point now) {
    if (account_enabled_) {
        accounts_->failure(user_key(user), now);
    }
    if (address_enabled_) {
        addresses_->failure(address, now);
    }
}

void attempt_limiter::record_success(std::string_view user, clock::time_point) {
    if (account_enabled_) {
        accounts_->clear(user_key(user));
    }
}

std::size_t attempt_limiter::account_entries() const {
    return accounts_->size();
}
std::size_t attempt_limiter::address_entries() const {
    return addresses_->size();
}

}  // namespace authd
