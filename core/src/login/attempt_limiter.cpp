#include "authd/login/attempt_limiter.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <sodium.h>

#include "authd/crypto/sodium.hpp"
#include "authd/store/user_store.hpp"

namespace authd {

namespace {

constexpr std::size_t shard_count = 16;  // enough that I/O threads rarely meet on one mutex

struct entry {
    double failures = 0;  // after forgiveness up to `updated`
    attempt_limiter::clock::time_point updated;
    attempt_limiter::clock::time_point blocked_until;
    std::uint32_t pending = 0;  // admitted attempts not settled yet
};

// The key of a count noted while the store did not answer: its budget, account and address.
std::string unshared_key(limit_budget budget, const account_digest& account,
                         std::uint64_t address) {
    std::string key(1, static_cast<char>(budget));
    key.append(reinterpret_cast<const char*>(account.bytes.data()), account.bytes.size());
    for (int i = 7; i >= 0; --i) {
        key.push_back(static_cast<char>((address >> (8 * i)) & 0xff));
    }
    return key;
}

// Counts merged in one call (one transaction of the store) after an outage: a node that counted
// 100,000 keys by itself does not send them in one statement, and a call that fails loses or
// repeats nothing of the calls before it.
constexpr std::size_t merge_batch = 256;

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

// The addresses each account logged in from lately: sharded like the counters, each account's
// list bounded (the most recent kept), the accounts bounded by max_entries.
class attempt_limiter::known_table {
  public:
    known_table(std::size_t max_entries, std::size_t per_account, clock::duration window)
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

// Failures counted by this node while the store did not answer, by budget and key, to merge.
struct attempt_limiter::unshared {
    std::mutex mutex;
    std::unordered_map<std::string, unshared_count> counts;
};

attempt_limiter::attempt_limiter(const limiter_config& config, limit_store* store)
    : config_(config),
      store_(store),
      accounts_(std::make_unique<table>(config.account, config.max_entries)),
      addresses_(std::make_unique<table>(config.address, config.max_entries)),
      known_(std::make_unique<known_table>(config.max_entries, config.known_addresses_per_account,
                                           config.known_address_window)),
      unshared_(std::make_unique<unshared>()),
      account_enabled_(config.account.enabled()),
      address_enabled_(config.address.enabled()),
      known_enabled_(config.known_addresses_on()) {
    init_sodium();
    crypto_shorthash_keygen(hash_key_);
}

attempt_limiter::~attempt_limiter() {
    sodium_memzero(hash_key_, sizeof hash_key_);
}

// The tables' keys are keyed hashes (a key random per process) of the account's digest, the one
// every node and store shares: an account learned from the store by its digest alone (another
// node's known address) has the key its name gives here.
std::uint64_t attempt_limiter::user_key(const account_digest& account) const noexcept {
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, account.bytes.data(), account.bytes.size(), hash_key_);
    std::uint64_t key = 0;
    for (const auto b : out) {
        key = (key << 8) | b;
    }
    return key;
}

// The key of an account's budget at one of its known addresses: the digest and the address,
// hashed as one.
std::uint64_t attempt_limiter::known_key(const account_digest& account,
                                         std::uint64_t address) const noexcept {
    unsigned char bytes[sizeof account.bytes + 8];
    std::copy(account.bytes.begin(), account.bytes.end(), bytes);
    for (int i = 0; i < 8; ++i) {
        bytes[sizeof account.bytes + static_cast<std::size_t>(i)] =
            static_cast<unsigned char>((address >> (8 * (7 - i))) & 0xff);
    }
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, bytes, sizeof bytes, hash_key_);
    std::uint64_t key = 0;
    for (const auto b : out) {
        key = (key << 8) | b;
    }
    return key;
}

attempt_limiter::check_result attempt_limiter::refused(std::uint32_t account_wait,
                                                       std::uint32_t address_wait,
                                                       bool known) const noexcept {
    if (account_wait == 0 && address_wait == 0) {
        return {};
    }
    if (account_wait >= address_wait) {
        return {account_wait, known ? limit_budget::known_address : limit_budget::account};
    }
    return {address_wait, limit_budget::address};
}

attempt_limiter::check_result attempt_limiter::retry_after(const account_digest& digest,
                                                           std::uint64_t address,
                                                           clock::time_point now) const {
    const auto wait = [now](clock::time_point until) {
        return until <= now ? 0 : wait_seconds(until - now);
    };
    std::uint32_t account_wait = 0;
    bool known = false;
    if (account_enabled_) {
        const auto account = user_key(digest);
        known = known_enabled_ && known_->known(account, address, now);
        account_wait = wait(accounts_->blocked_until(known ? known_key(digest, address) : account));
    }
    const auto address_wait = address_enabled_ ? wait(addresses_->blocked_until(address)) : 0;
    const auto refusal = refused(account_wait, address_wait, known);
    if (refusal.wait > 0) {
        refusals_[static_cast<std::size_t>(refusal.refused_by)].fetch_add(
            1, std::memory_order_relaxed);
    }
    return refusal;
}

attempt_limiter::admission attempt_limiter::admit(const account_digest& digest,
                                                  std::uint64_t address, clock::time_point now) {
    // A refusal makes no entry (and so evicts none): both counts are checked, waits and attempts
    // in flight alike, before either is reserved. (Only two attempts racing between the check and
    // the reservation can still make and drop an entry, never more than hashes admitted.)
    const bool known = known_enabled_ && known_->known(user_key(digest), address, now);
    const auto account = known ? known_key(digest, address) : user_key(digest);
    const auto account_wait = account_enabled_ ? accounts_->check(account, now) : 0;
    const auto address_wait = address_enabled_ ? addresses_->check(address, now) : 0;
    if (const auto refusal = refused(account_wait, address_wait, known); refusal.wait > 0) {
        refusals_[static_cast<std::size_t>(refusal.refused_by)].fetch_add(
            1, std::memory_order_relaxed);
        return {refusal.wait, refusal.refused_by, known, false, false, 0};
    }
    if (!account_enabled_ && !address_enabled_) {
        return {};
    }
    if (store_ != nullptr) {
        return admit_by_store(digest, address, known, now);
    }
    return admit_locally(digest, address, known, now, false);
}

attempt_limiter::admission attempt_limiter::admit_locally(const account_digest& digest,
                                                          std::uint64_t address, bool known,
                                                          clock::time_point now, bool to_merge) {
    const auto account = known ? known_key(digest, address) : user_key(digest);
    admission a{0, limit_budget::none, known, false, to_merge, 0};
    if (account_enabled_) {
        if (const auto wait = accounts_->reserve(account, now); wait > 0) {
            a.wait = wait;
            a.refused_by = known ? limit_budget::known_address : limit_budget::account;
        }
    }
    if (a.wait == 0 && address_enabled_) {
        if (const auto wait = addresses_->reserve(address, now); wait > 0) {
            if (account_enabled_) {
                accounts_->settle(account, table::settlement::release, true, now);
            }
            a.wait = wait;
            a.refused_by = limit_budget::address;
        }
    }
    if (a.wait > 0) {
        refusals_[static_cast<std::size_t>(a.refused_by)].fetch_add(1, std::memory_order_relaxed);
    } else if (store_ != nullptr) {
        local_admissions_.fetch_add(1, std::memory_order_relaxed);
    }
    return a;
}

attempt_limiter::admission attempt_limiter::admit_by_store(const account_digest& digest,
                                                           std::uint64_t address, bool known,
                                                           clock::time_point now) {
    std::uint64_t attempt = 0;
    while (attempt == 0) {
        randombytes_buf(&attempt, sizeof attempt);
        attempt &= ~(std::uint64_t{1} << 63);  // a positive bigint in SQL
    }
    if (!store_up_.load(std::memory_order_relaxed)) {
        // What this node counted meanwhile first, if the store takes it now (the admit below
        // says whether it answers when there is nothing to merge).
        store_answered(false);
    }
    limit_verdict verdict;
    try {
        verdict = store_->admit(digest, address, config_, attempt);
    } catch (const store_unavailable& e) {
        store_failed("admit", e);
        return admit_locally(digest, address, known, now, true);
    } catch (const std::exception& e) {
        // It answered, and refused this statement: counted here alone (never unlimited), and not
        // to be merged (the store would refuse that too); the store still counts every other
        // attempt.
        store_refused("admit", e);
        return admit_locally(digest, address, known, now, false);
    }
    store_answered(true);
    const auto account = verdict.known ? known_key(digest, address) : user_key(digest);
    view(account, address, verdict, now);
    if (verdict.known && !known) {
        known_->learn(user_key(digest), address, now);  // another node's success
    }
    if (verdict.wait > 0) {
        refusals_[static_cast<std::size_t>(verdict.refused_by)].fetch_add(
            1, std::memory_order_relaxed);
        return {verdict.wait, verdict.refused_by, verdict.known, true, false, 0};
    }
    return {0, limit_budget::none, verdict.known, true, false, attempt};
}

void attempt_limiter::view(std::uint64_t account, std::uint64_t address,
                           const limit_verdict& verdict, clock::time_point now) {
    if (account_enabled_) {
        accounts_->assign(account, verdict.account, now);
    }
    if (address_enabled_) {
        addresses_->assign(address, verdict.address, now);
    }
}

void attempt_limiter::settle(const account_digest& digest, std::uint64_t address,
                             const admission& admitted, outcome result, clock::time_point now) {
    if (admitted.wait > 0 || (!account_enabled_ && !address_enabled_)) {
        return;
    }
    if (admitted.by_store) {
        settle_by_store(digest, address, admitted, result, now);
    } else {
        settle_locally(digest, address, admitted, result, now);
    }
    if (result == outcome::success && known_enabled_) {
        known_->learn(user_key(digest), address, now);
    }
}

void attempt_limiter::settle_locally(const account_digest& digest, std::uint64_t address,
                                     const admission& admitted, outcome result,
                                     clock::time_point now) {
    using s = table::settlement;
    if (account_enabled_) {
        const auto how = result == outcome::failure   ? s::failure
                         : result == outcome::success ? s::clear
                                                      : s::release;
        const auto account = admitted.known ? known_key(digest, address) : user_key(digest);
        accounts_->settle(account, how, true, now);
    }
    if (address_enabled_) {
        addresses_->settle(address, result == outcome::failure ? s::failure : s::release, true,
                           now);
    }
    if (admitted.to_merge && result == outcome::failure) {
        note_unshared(digest, address, admitted.known);
    }
}

void attempt_limiter::settle_by_store(const account_digest& digest, std::uint64_t address,
                                      const admission& admitted, outcome result,
                                      clock::time_point now) {
    const auto account = admitted.known ? known_key(digest, address) : user_key(digest);
    try {
        switch (result) {
            case outcome::failure:
                return;  // counted when admitted
            case outcome::success: {
                const auto verdict =
                    store_->succeed(digest, address, admitted.known, config_, admitted.attempt);
                view(account, address, verdict, now);
                break;
            }
            case outcome::abandoned:
                store_->release(digest, address, admitted.known, config_, admitted.attempt);
                break;
        }
        store_answered(true);
    } catch (const std::exception& e) {
        // The store keeps the attempt counted as a failure: on the safe side.
        const char* during = result == outcome::success ? "succeed" : "release";
        if (dynamic_cast<const store_unavailable*>(&e) != nullptr) {
            store_failed(during, e);
        } else {
            store_refused(during, e);
        }
        if (result == outcome::success && account_enabled_) {
            accounts_->assign(account, {}, now);
        }
    }
}

void attempt_limiter::note_unshared(const account_digest& digest, std::uint64_t address,
                                    bool known) {
    const auto add = [&](limit_budget budget, const account_digest& account, std::uint64_t addr) {
        auto key = unshared_key(budget, account, addr);
        const std::lock_guard lock(unshared_->mutex);
        unshared_pending_.store(true, std::memory_order_relaxed);
        auto it = unshared_->counts.find(key);
        if (it == unshared_->counts.end()) {
            if (unshared_->counts.size() >= config_.max_entries) {
                return;  // the local counts still hold; only the merge of this one is lost
            }
            it = unshared_->counts.emplace(std::move(key), unshared_count{budget, account, addr, 0})
                     .first;
        }
        it->second.failures += 1;
    };
    if (account_enabled_) {
        add(known ? limit_budget::known_address : limit_budget::account, digest,
            known ? address : 0);
    }
    if (address_enabled_) {
        add(limit_budget::address, account_digest{}, address);
    }
}

void attempt_limiter::store_failed(const char* during, const std::exception& e) noexcept {
    if (store_up_.exchange(false, std::memory_order_relaxed)) {
        try {
            if (events_) {
                events_(
                    "limits_store_unreachable",
                    std::string("counting locally until it answers (") + during + "): " + e.what());
            }
        } catch (...) {
            // Nothing to tell it with: the metric says it.
        }
    }
}

// The store answered but refused a statement (a bug, a role without its grants): not an outage.
// Said every time: nothing a client sends makes it happen, and an operator must hear of it.
void attempt_limiter::store_refused(const char* during, const std::exception& e) noexcept {
    try {
        if (events_) {
            events_("limits_store_refused",
                    std::string("counted by this node alone (") + during + "): " + e.what());
        }
    } catch (...) {
        // Nothing to tell it with.
    }
}

// seen: the caller has just had an answer from the store. Without one, the store counts as
// answering again only once a merge of what was counted meanwhile went through: with nothing to
// merge, nothing here asks it.
void attempt_limiter::store_answered(bool seen) noexcept {
    if (store_up_.load(std::memory_order_relaxed) &&
        !unshared_pending_.load(std::memory_order_relaxed)) {
        return;
    }
    // Back: what was counted meanwhile goes to the store first, by one thread (the others go on
    // counting by themselves until it has merged), in batches of merge_batch, each one
    // transaction. Counts noted while it merges are merged too, before the store counts as
    // answering; a straggler noted after (an attempt admitted locally that settles later) is
    // merged by the next upkeep.
    const std::unique_lock merging(merge_mutex_, std::try_to_lock);
    if (!merging.owns_lock()) {
        return;
    }
    std::size_t merged = 0;
    bool answered = seen;
    for (;;) {
        std::vector<unshared_count> counts;
        try {
            {
                const std::lock_guard lock(unshared_->mutex);
                if (unshared_->counts.empty()) {
                    unshared_pending_.store(false, std::memory_order_relaxed);
                    break;
                }
                counts.reserve(std::min(merge_batch, unshared_->counts.size()));
                for (auto it = unshared_->counts.begin();
                     it != unshared_->counts.end() && counts.size() < merge_batch;) {
                    counts.push_back(it->second);
                    it = unshared_->counts.erase(it);
                }
            }
            store_->merge(counts, config_);
            answered = true;
            merged += counts.size();
        } catch (const store_unavailable&) {
            // Not yet: keep this batch (nothing of it was added) for the next time it answers.
            put_back(counts);
            return;
        } catch (const store_error& e) {
            // Refused, not unreachable: it would refuse this batch again at every upkeep. One
            // count at a time, so that only what it refuses stays this node's own (those counts
            // still hold here); the store answers.
            answered = true;
            store_refused("merge", e);
            if (!merge_one_by_one(counts, merged)) {
                return;
            }
        } catch (const std::exception&) {
            put_back(counts);  // out of memory: the next upkeep tries again
            return;
        }
    }
    if (!answered) {
        return;
    }
    if (!store_up_.exchange(true, std::memory_order_relaxed) && events_) {
        try {
            events_("limits_store_answers", "counting in the store again; merged " +
                                                std::to_string(merged) +
                                                " counters counted meanwhile");
        } catch (...) {
            // Nothing to tell it with: the metric says it.
        }
    }
}

// A batch the store refused, one count at a time: what it refuses again is dropped (said once, by
// the caller), what it takes is merged. False when it stopped answering (the rest put back).
bool attempt_limiter::merge_one_by_one(std::vector<unshared_count>& counts,
                                       std::size_t& merged) noexcept {
    for (std::size_t i = 0; i < counts.size(); ++i) {
        try {
            store_->merge({counts[i]}, config_);
            ++merged;
        } catch (const store_unavailable&) {
            std::vector<unshared_count> rest(counts.begin() + static_cast<std::ptrdiff_t>(i),
                                             counts.end());
            put_back(rest);
            return false;
        } catch (const std::exception&) {
            // Refused (or no memory for the vector): this count stays this node's own.
        }
    }
    return true;
}

void attempt_limiter::put_back(std::vector<unshared_count>& counts) noexcept {
    try {
        const std::lock_guard lock(unshared_->mutex);
        for (auto& c : counts) {
            auto [it, fresh] =
                unshared_->counts.emplace(unshared_key(c.budget, c.account, c.address), c);
            if (!fresh) {
                it->second.failures += c.failures;
            }
        }
        if (!counts.empty()) {
            unshared_pending_.store(true, std::memory_order_relaxed);
        }
    } catch (...) {
        // Out of memory: those counts stay local only.
    }
}

void attempt_limiter::maintain(clock::time_point now) noexcept {
    if (store_ == nullptr) {
        return;
    }
    const std::unique_lock lock(maintain_mutex_, std::try_to_lock);
    if (!lock.owns_lock()) {
        return;
    }
    const bool pending = unshared_pending_.load(std::memory_order_relaxed);
    if (pending) {
        store_answered(false);  // tries the merge; stays down if the store still does not answer
    } else if (!store_up_.load(std::memory_order_relaxed)) {
        // Nothing to merge: whether the store is back is asked of it, one round trip per upkeep
        // while it is down (a node that nobody logs in to must say so in /metrics too).
        try {
            store_->check();
        } catch (const std::exception&) {
            return;  // still down: said once already (store_failed)
        }
        store_answered(true);
    }
    if (now < next_prune_) {
        return;
    }
    next_prune_ = now + std::chrono::seconds(60);
    try {
        store_->prune(config_);
    } catch (const store_unavailable& e) {
        store_failed("prune", e);
    } catch (const std::exception& e) {
        store_refused("prune", e);
    }
}

void attempt_limiter::learn_known_address(const account_digest& account, std::uint64_t address,
                                          double age_seconds, clock::time_point now) {
    if (!known_enabled_) {
        return;
    }
    known_->learn(user_key(account), address,
                  now - std::chrono::duration_cast<clock::duration>(
                            std::chrono::duration<double>(std::max(0.0, age_seconds))));
}

void attempt_limiter::load_known_addresses(clock::time_point now) {
    if (store_ == nullptr || !known_enabled_) {
        return;
    }
    for (const auto& k : store_->known_addresses(config_)) {
        learn_known_address(k.account, k.address, k.age_seconds, now);
    }
}

bool attempt_limiter::sharing() const noexcept {
    return store_ != nullptr && store_->shared() && store_up_.load(std::memory_order_relaxed);
}

void attempt_limiter::record_failure(const account_digest& account, std::uint64_t address,
                                     clock::time_point now) {
    if (account_enabled_) {
        accounts_->settle(user_key(account), table::settlement::failure, false, now);
    }
    if (address_enabled_) {
        addresses_->settle(address, table::settlement::failure, false, now);
    }
}

void attempt_limiter::record_success(const account_digest& account, clock::time_point now) {
    if (account_enabled_) {
        accounts_->settle(user_key(account), table::settlement::clear, false, now);
    }
}

std::size_t attempt_limiter::account_entries() const {
    return accounts_->size();
}
std::size_t attempt_limiter::address_entries() const {
    return addresses_->size();
}
std::size_t attempt_limiter::known_address_entries() const {
    return known_->size();
}
std::uint64_t attempt_limiter::protected_evictions() const {
    return accounts_->protected_evictions() + addresses_->protected_evictions();
}
std::uint64_t attempt_limiter::refusals(limit_budget budget) const noexcept {
    return refusals_[static_cast<std::size_t>(budget)].load(std::memory_order_relaxed);
}
std::uint64_t attempt_limiter::local_admissions() const noexcept {
    return local_admissions_.load(std::memory_order_relaxed);
}

}  // namespace authd
