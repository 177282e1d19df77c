#include "authd/login/attempt_limiter.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <sodium.h>

#include "authd/crypto/sodium.hpp"
#include "authd/store/store_errors.hpp"

#include "counter_table.hpp"
#include "known_address_table.hpp"
#include "unshared_counts.hpp"

namespace authd {

attempt_limiter::attempt_limiter(const limiter_config& config, limit_store* store)
    : config_(config),
      store_(store),
      accounts_(std::make_unique<detail::counter_table>(config.account, config.max_entries)),
      addresses_(std::make_unique<detail::counter_table>(config.address, config.max_entries)),
      known_(std::make_unique<detail::known_address_table>(
          config.max_entries, config.known_addresses_per_account, config.known_address_window)),
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
        return until <= now ? 0 : detail::wait_seconds(until - now);
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
                accounts_->settle(account, detail::counter_table::settlement::release, true, now);
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
    using s = detail::counter_table::settlement;
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
        accounts_->settle(user_key(account), detail::counter_table::settlement::failure, false,
                          now);
    }
    if (address_enabled_) {
        addresses_->settle(address, detail::counter_table::settlement::failure, false, now);
    }
}

void attempt_limiter::record_success(const account_digest& account, clock::time_point now) {
    if (account_enabled_) {
        accounts_->settle(user_key(account), detail::counter_table::settlement::clear, false, now);
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
