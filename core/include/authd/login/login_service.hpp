// One login, from the request to its answer, in one place: refused at once where it costs nothing
// (answer_at_once, on the I/O thread); else, on a hash worker (attempt): admitted by the
// brute-force limits, verified (cache or store lookup, argon2id, or a dummy verification for an
// unknown user), rehashed when the parameters changed, settled, and answered with a token or a
// refusal. Blocking but for answer_at_once: never on an I/O thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "authd/crypto/keyring.hpp"
#include "authd/crypto/keyring_holder.hpp"
#include "authd/crypto/password_hasher.hpp"
#include "authd/http/api.hpp"
#include "authd/login/attempt_limiter.hpp"
#include "authd/login/login_request.hpp"
#include "authd/login/token_cutoffs.hpp"
#include "authd/login/user_cache.hpp"
#include "authd/store/limit_store.hpp"
#include "authd/store/store_backend.hpp"

namespace authd {

// What a call of the login service (a login, or a logout's stored revocation) answers.
struct service_result {
    api_code code = api_code::internal_error;
    std::string body;       // the JSON body for the client
    std::string log_note;   // what went wrong, for the log only (never a password or token)
    bool rehashed = false;  // a login: the hash was replaced by one of the current parameters
    std::uint32_t retry_after = 0;  // seconds, for a 429 refusal (Retry-After)
    limit_budget refused_by =
        limit_budget::none;  // for a 429: the budget that refused, for the log
};

class login_service final : public change_listener {
  public:
    // limiter: the brute-force limits attempt() admits and settles through (nullptr: none).
    // store: the backend whose users, revocations and token cutoffs it reads and writes.
    login_service(store_backend& store, user_cache& cache, const password_hasher& hasher,
                  const keyring_holder& keys, std::chrono::seconds token_ttl,
                  attempt_limiter* limiter = nullptr);

    // What a login gets on the I/O thread, before any queue slot, when that costs nothing: an
    // over-long password is refused (404: it cannot match; no hash, no count), an account or
    // address that this node knows to wait is refused (429). nullopt: the login goes to a worker
    // (attempt()). Never blocks.
    std::optional<service_result> answer_at_once(const login_request& request) const;

    // One whole login attempt, on a hash worker: admitted by the brute-force limits, which count
    // it (or refused with 429 and no hash), verified (login()), and settled by its outcome (a
    // wrong password stays a failure, a success clears the budget it used, an error releases
    // it). Never throws.
    service_result attempt(const login_request& request,
                           hash_runner& runner = hashes_in_this_thread()) const;

    // The verification and token of attempt(), without the brute-force limits (tests, the fuzz
    // target). user and password are the request's header values (already checked to be
    // non-empty), user as login_user_name() maps it; user_as_sent, when not empty, the name as
    // received, whose account an older store may hold (login_request::user_as_sent). Hashes run
    // where runner runs them: a hash worker passes its helper process
    // (server/workers/hash_helper.hpp). Never throws: a store or runner failure becomes code 500
    // with a log note, an unreachable store 503.
    service_result login(std::string_view user, std::string_view password,
                         hash_runner& runner = hashes_in_this_thread(),
                         std::string_view user_as_sent = {}) const;

    // Stores a token's revocation (/logout). Blocking, like login(); never throws.
    service_result revoke(std::string_view jti, std::int64_t exp) const;

    // True when the token was void by its user's cutoff (a password change or removal since it was
    // issued). Never blocks: /verify asks it on the I/O thread.
    bool voided(const token_claims& claims) const {
        return cutoffs_.voids(claims.user, claims.iat);
    }

    // Reads every token cutoff that may still void a token from the store (at start). Blocking;
    // throws store_error.
    void load_token_cutoffs() const;

    // The periodic store check (server: about twice a second, on a hash worker): asks the store
    // whether someone else changed it (user_store::poll_external_changes, which every login asks
    // too); if so, drops the cache and reads the token cutoffs again, so that an idle node learns
    // of a password change or removal made by authctl within a second. Drops the cutoffs that
    // void nothing any more. Blocking; never throws.
    void check_store() const;

    // Counters for /metrics.
    std::uint64_t cache_hits() const noexcept {
        return cache_hits_.load(std::memory_order_relaxed);
    }
    std::uint64_t cache_misses() const noexcept {
        return cache_misses_.load(std::memory_order_relaxed);
    }
    // Imported hashes of another format (foreign_hash.hpp) replaced by argon2id after a login.
    std::uint64_t legacy_upgrades() const noexcept {
        return legacy_upgrades_.load(std::memory_order_relaxed);
    }

    // False while the store is failing: its last call failed less than 5 s ago, or it says it is
    // not usable (its file is gone) (/readyz).
    bool store_healthy() const noexcept;

    // change_listener: drop what the cache holds of a user changed elsewhere, or everything; note
    // a token cutoff set elsewhere.
    void user_changed(std::string_view name) override;
    void all_changed() override;
    void tokens_cut(std::string_view name, std::int64_t not_before) override;

    // At most this many users' cutoffs in memory (about 100 bytes each); see token_cutoff_map.
    static constexpr std::size_t max_token_cutoffs = 100'000;

  private:
    bool lookup(std::string_view user, std::string& phc, std::int64_t& not_before) const;
    void drop_cache_if_store_changed() const;
    void note_store_failure() const;
    bool rehash(std::string_view user, std::string_view password, const std::string& old_phc,
                hash_runner& runner, std::string& note) const;

    service_result refused_for(std::uint32_t wait, limit_budget budget) const;
    template <class Work>
    service_result guarded(Work&& work) const;

    user_store& users_;
    revocation_store& revocations_;
    token_cutoff_store& token_cutoffs_;
    attempt_limiter* limiter_;
    user_cache& cache_;
    const password_hasher& hasher_;
    const keyring_holder& keys_;
    std::chrono::seconds ttl_;
    mutable std::atomic<std::uint64_t> generation_{0};  // bumped when the cache is dropped
    mutable std::mutex poll_mutex_;  // asking the store whether it changed, and dropping the cache
    mutable std::atomic<std::uint64_t> cache_hits_{0};
    mutable std::atomic<std::uint64_t> cache_misses_{0};
    mutable std::atomic<std::uint64_t> legacy_upgrades_{0};
    mutable std::atomic<std::int64_t> store_failed_at_{0};  // steady_clock ticks; 0: never
    mutable token_cutoff_map cutoffs_;                      // thread-safe
    // The store changed since the cutoffs were last read (a login found it out): check_store()
    // reads them again.
    mutable std::atomic<bool> cutoffs_stale_{false};
};

}  // namespace authd
