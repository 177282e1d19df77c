#include "authd/login/login_service.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <new>
#include <stdexcept>

#include "authd/crypto/foreign_hash.hpp"
#include "authd/http/api.hpp"
#include "authd/util/clock.hpp"

namespace authd {

login_service::login_service(store_backend& store, user_cache& cache, const password_hasher& hasher,
                             const keyring_holder& keys, std::chrono::seconds token_ttl,
                             attempt_limiter* limiter)
    : users_(store.users()),
      revocations_(store.revocations()),
      token_cutoffs_(store.cutoffs()),
      limiter_(limiter),
      cache_(cache),
      hasher_(hasher),
      keys_(keys),
      ttl_(token_ttl),
      cutoffs_(max_token_cutoffs, token_ttl.count() + token_clock_leeway_seconds) {}

namespace {

service_result failure(api_code code, std::string note = {}) {
    return service_result{code, std::string(canned_body(code)), std::move(note), false};
}

// How a verified attempt settles its count: a wrong password (or unknown user) stays a failure,
// a success clears the budget it used, anything else (a store error, shutdown) releases it.
attempt_limiter::outcome settlement_of(api_code code) noexcept {
    return code == api_code::not_found ? attempt_limiter::outcome::failure
           : code == api_code::ok      ? attempt_limiter::outcome::success
                                       : attempt_limiter::outcome::abandoned;
}

}  // namespace

// The one 429 of a login, whoever refuses it (this node's view, or the limits' admission).
service_result login_service::refused_for(std::uint32_t wait, limit_budget budget) const {
    return service_result{api_code::too_many_attempts,
                          error_body(api_code::too_many_attempts, message_too_many_attempts(wait)),
                          {},
                          false,
                          wait,
                          budget};
}

std::optional<service_result> login_service::answer_at_once(const login_request& request) const {
    // A password longer than any stored one cannot match: refused without a hash, a queue slot or
    // a brute-force counter entry (such requests are cheap to send by the thousand).
    if (password_too_long(request.password)) {
        return failure(api_code::not_found);
    }
    // Read only, no counter entry is made: a waiting account or address costs no queue slot. The
    // attempt is admitted, and counted, by the worker that hashes it (attempt()).
    if (limiter_ != nullptr) {
        const auto check =
            limiter_->retry_after(request.account, request.client, attempt_limiter::clock::now());
        if (check.wait != 0) {
            return refused_for(check.wait, check.refused_by);
        }
    }
    return std::nullopt;
}

service_result login_service::attempt(const login_request& request, hash_runner& runner) const {
    if (limiter_ == nullptr || password_too_long(request.password)) {
        return login(request.user, request.password, runner, request.user_as_sent);  // not counted
    }
    using clock = attempt_limiter::clock;
    const auto admitted = limiter_->admit(request.account, request.client, clock::now());
    if (admitted.wait > 0) {
        return refused_for(admitted.wait, admitted.refused_by);
    }
    auto result = login(request.user, request.password, runner, request.user_as_sent);
    limiter_->settle(request.account, request.client, admitted, settlement_of(result.code),
                     clock::now());
    return result;
}

// not_before: the user's token cutoff as the store has it (0 when the record came from the cache,
// whose users' cutoffs are in cutoffs_ already).
bool login_service::lookup(std::string_view user, std::string& phc,
                           std::int64_t& not_before) const {
    not_before = 0;
    if (cache_.find(user, phc)) {
        cache_hits_.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    cache_misses_.fetch_add(1, std::memory_order_relaxed);
    // A clear() racing with this fill must win: if the store changed while its old record was
    // read, the record is dropped again rather than cached stale.
    const auto generation = generation_.load(std::memory_order_acquire);
    auto stored = users_.find_login(user);
    if (!stored) {
        return false;
    }
    phc = std::move(stored->phc);
    not_before = stored->tokens_not_before;
    if (not_before != 0) {
        // Before the feed or the store check tells: this node refuses the old tokens from now on.
        cutoffs_.raise(user, not_before, unix_now());
    }
    cache_.put(user, phc);
    if (generation_.load(std::memory_order_acquire) != generation) {
        cache_.erase(user);
    }
    return true;
}

void login_service::drop_cache_if_store_changed() const {
    // A store that cannot say whether it changed is failing: keep serving from the cache what it
    // holds (a miss then fails on its own), rather than fail logins the cache could answer.
    // The store says "changed" once, to the first thread that asks: until that thread has dropped
    // the cache, another one asking would hear "unchanged" and read the stale record. So asking
    // and dropping are one step (a mutex of the hash workers': logins and store checks only).
    const std::lock_guard lock(poll_mutex_);
    try {
        if (!users_.poll_external_changes()) {
            return;
        }
    } catch (const store_error&) {
        note_store_failure();
        return;
    }
    generation_.fetch_add(1, std::memory_order_acq_rel);
    cache_.clear();
    cutoffs_stale_.store(true, std::memory_order_release);
}

void login_service::load_token_cutoffs() const {
    const auto now = unix_now();
    for (const auto& [name, not_before] :
         token_cutoffs_.token_cutoffs(now - ttl_.count() - token_clock_leeway_seconds)) {
        cutoffs_.raise(name, not_before, now);
    }
}

void login_service::check_store() const {
    try {
        drop_cache_if_store_changed();
        if (cutoffs_stale_.exchange(false, std::memory_order_acq_rel)) {
            try {
                load_token_cutoffs();
            } catch (...) {
                cutoffs_stale_.store(true, std::memory_order_release);  // the next check retries
                throw;
            }
        }
        cutoffs_.purge(unix_now());
    } catch (const store_error&) {
        note_store_failure();
    } catch (const std::exception&) {
        // No memory, most likely: the next check tries again.
    }
}

void login_service::note_store_failure() const {
    store_failed_at_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                           std::memory_order_relaxed);
}

bool login_service::store_healthy() const noexcept {
    if (!users_.usable()) {
        return false;  // failing until an operator acts (its file is gone), called or not
    }
    const auto failed = store_failed_at_.load(std::memory_order_relaxed);
    if (failed == 0) {
        return true;
    }
    const auto since =
        std::chrono::steady_clock::now() -
        std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(failed));
    return since > std::chrono::seconds(5);
}

void login_service::user_changed(std::string_view name) {
    generation_.fetch_add(1, std::memory_order_acq_rel);
    cache_.erase(name);
}

void login_service::all_changed() {
    generation_.fetch_add(1, std::memory_order_acq_rel);
    cache_.clear();
}

void login_service::tokens_cut(std::string_view name, std::int64_t not_before) {
    cutoffs_.raise(name, not_before, unix_now());
}

service_result login_service::login(std::string_view user, std::string_view password,
                                    hash_runner& runner, std::string_view user_as_sent) const {
    // A password longer than any authctl stores cannot match: refused before any hashing.
    if (password_too_long(password)) {
        return failure(api_code::not_found);
    }
    // The time of issue and the user's cutoff as known before the record is read: a password
    // change that lands while this login verifies the old hash (its cutoff arriving meanwhile)
    // must void the token this login issues, so neither may be taken after the verification.
    const auto now = unix_now();
    const auto known_cutoff = cutoffs_.not_before(user);
    const auto known_cutoff_as_sent = user_as_sent.empty() ? 0 : cutoffs_.not_before(user_as_sent);
    return guarded([&] {
        drop_cache_if_store_changed();
        thread_local std::string phc;
        std::int64_t not_before = 0;
        auto cutoff = known_cutoff;
        // The mapped name's account; else an older store's account under the bytes as sent.
        bool found = valid_user_name(user) && lookup(user, phc, not_before);
        if (!found && !user_as_sent.empty() && valid_user_name(user_as_sent) &&
            lookup(user_as_sent, phc, not_before)) {
            found = true;
            user = user_as_sent;
            cutoff = known_cutoff_as_sent;
        }
        if (!found) {
            // Unknown user: the same argon2id work as a wrong password, so that neither the
            // answer nor its timing tells whether the user exists.
            hasher_.verify_dummy(password, runner);
            return failure(api_code::not_found);
        }
        if (!hasher_.verify(phc, password, runner)) {
            return failure(api_code::not_found);
        }
        service_result result{api_code::ok, {}, {}, false};
        if (hasher_.needs_rehash(phc)) {
            result.rehashed = rehash(user, password, phc, runner, result.log_note);
            if (result.rehashed && !is_native_argon2id(phc)) {
                legacy_upgrades_.fetch_add(1, std::memory_order_relaxed);  // foreign_hash.hpp
            }
        }
        // Issued no earlier than the cutoff read with the record: a login in the very second of
        // a password change (the cutoff is that second + 1) gets a token one second ahead,
        // inside the leeway, rather than one its own cutoff voids.
        const auto iat = std::max({now, not_before, cutoff});
        result.body = token_body(keys_.sign(user, now + ttl_.count(), iat));
        return result;
    });
}

service_result login_service::revoke(std::string_view jti, std::int64_t exp) const {
    return guarded([&] {
        revocations_.revoke_token(jti, exp);
        return service_result{api_code::ok, std::string(ok_body()), {}, false};
    });
}

// A store call's failure as the client's answer: 503 while the store cannot be reached (retry
// later), 500 otherwise, with what went wrong for the log only.
template <class Work>
service_result login_service::guarded(Work&& work) const {
    try {
        return std::forward<Work>(work)();
    } catch (const store_unavailable& e) {
        note_store_failure();
        return failure(api_code::busy, e.what());
    } catch (const store_error& e) {
        note_store_failure();
        return failure(api_code::internal_error, e.what());
    } catch (const std::bad_alloc&) {
        return failure(api_code::internal_error, "out of memory");
    } catch (const hash_runner_timeout& e) {
        return failure(api_code::busy, e.what());
    } catch (const hash_runner_error& e) {
        return failure(api_code::internal_error, e.what());
    }
}

bool login_service::rehash(std::string_view user, std::string_view password,
                           const std::string& old_phc, hash_runner& runner,
                           std::string& note) const {
    // Best effort: the login has succeeded already, and a failed write leaves the old hash valid.
    try {
        const auto fresh = hasher_.hash(password, runner);
        if (!users_.replace_hash(user, old_phc, fresh)) {
            return false;  // changed meanwhile (authctl user passwd): keep the newer one
        }
        cache_.put(user, fresh);
        return true;
    } catch (const std::exception& e) {
        note = std::string("rehash not stored: ") + e.what();
        return false;
    }
}

}  // namespace authd
