// Brute-force limits: failed logins counted per account and per client address; past a threshold
// further attempts are refused before any hashing, for a time that doubles with each further
// failure and shrinks as failures are forgiven with time (docs/security.md).
//
// An attempt counts from the moment it is admitted to hashing (admit), not from its outcome. So
// attempts that arrive together are admitted exactly as if they had come one after the other, on
// any number of threads: with F free failures, at most F + 1 are hashed before the first refusal.
//
// The owner's budget: an address from which the account logged in within the known-address
// window counts that account's failures in a budget of its own (the account's policy), so that
// failures from elsewhere never make the owner there wait. Every other address shares the
// account's budget. The address's own budget (across accounts) applies to every attempt.
//
// With a limit store (PostgreSQL: shared by every node; SQLite: a file that outlives authd), the
// store admits and counts; this node keeps a view of what it answered, so that an attempt the view
// refuses costs no call. While the store does not answer, the node counts by itself (never
// unlimited), says so, and merges what it counted once the store answers again.
//
// Accounts are known by their digest (account_digest::of(name), computed once per login by its
// login_request), never by the name.
//
// Thread-safe. retry_after() takes one short-held shard mutex and never does I/O, so I/O threads
// may call it; admit() and settle() call the store, if any. Memory is bounded: each table holds
// at most max_entries keys, and keys are 64-bit keyed hashes (SipHash) of the name's digest
// (account_digest: SHA-256, the key every store and node shares), so a long user name costs no
// more room than a short one. Only admissions and failures create entries (retry_after() never
// does), and an entry that matters (past its free failures, waiting, or with an attempt in
// flight) is evicted only when a whole sample of the table holds nothing else (docs/security.md
// says what that takes).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "authd/login/address_key.hpp"
#include "authd/store/limit_store.hpp"

namespace authd {

namespace detail {
class counter_table;
class known_address_table;
}  // namespace detail

class attempt_limiter {
  public:
    using clock = std::chrono::steady_clock;

    // store: where the counters live beyond this process (nullptr: in memory only). It must
    // outlive the limiter.
    explicit attempt_limiter(const limiter_config& config, limit_store* store = nullptr);
    ~attempt_limiter();
    attempt_limiter(const attempt_limiter&) = delete;
    attempt_limiter& operator=(const attempt_limiter&) = delete;

    struct check_result {
        std::uint32_t wait = 0;  // seconds to wait, rounded up; 0 when allowed
        limit_budget refused_by = limit_budget::none;
    };

    // Whether this attempt must wait, by this node's view (never asks the store, creates no
    // entry): the cheap check before a login is queued.
    check_result retry_after(const account_digest& account, std::uint64_t address,
                             clock::time_point now) const;

    // An attempt admitted to hashing (wait 0), or refused (the seconds to wait and the budget
    // that refused it).
    struct admission {
        std::uint32_t wait = 0;
        limit_budget refused_by = limit_budget::none;
        bool known = false;     // counted in the known address's budget, not the account's
        bool by_store = false;  // admitted (and counted) by the limit store
        // Counted by this node alone because the store could not be reached: merged once it is.
        // (An attempt the store refused to count, though it answers, is counted here only.)
        bool to_merge = false;
        std::uint64_t attempt = 0;
    };

    // Admits one attempt to hashing, or refuses it. Admitted, the attempt counts at once (in
    // memory: as a reservation in the account's or known address's count and the address's,
    // until settle(); in the store: as a failure, until settle() says otherwise). An attempt is
    // refused while a count waits, and also when the reservations already in flight would use up
    // the free failures (Retry-After 1: their outcome is due shortly). A refusal that this node's
    // view decides costs no call to the store.
    admission admit(const account_digest& account, std::uint64_t address, clock::time_point now);

    enum class outcome : std::uint8_t {
        failure,   // wrong password or unknown user: the reservation becomes a failure
        success,   // the budget used is cleared, the address becomes known (the address keeps
                   // its own count)
        abandoned  // not decided (store error, shutdown): the reservation is released
    };
    // Ends an admitted attempt. Call exactly once per admit() that returned wait 0, with it.
    void settle(const account_digest& account, std::uint64_t address, const admission& admitted,
                outcome result, clock::time_point now);

    // A failure without a reservation (as admit() then settle(failure)), in memory only.
    void record_failure(const account_digest& account, std::uint64_t address,
                        clock::time_point now);

    // A success without a reservation, in memory only: clears the account's count (the address
    // keeps its own: one right password among many wrong ones does not excuse the others).
    void record_success(const account_digest& account, clock::time_point now);

    // An address that the account logged in from age_seconds ago (another node's success, or the
    // store's list at start).
    void learn_known_address(const account_digest& account, std::uint64_t address,
                             double age_seconds, clock::time_point now);

    // Reads the known addresses from the store (at start). Throws store_error.
    void load_known_addresses(clock::time_point now);

    // Periodic upkeep (a hash worker calls it when idle): merges what was counted while the store
    // could not be reached, and lets the store forget what it need not keep. Never throws.
    void maintain(clock::time_point now) noexcept;

    // Where the limiter tells of the store failing and answering again (event, detail), for the
    // log. Set before any other call; called from the thread that saw it.
    using event_sink = std::function<void(std::string_view event, std::string_view detail)>;
    void set_event_sink(event_sink sink) { events_ = std::move(sink); }

    // True while the limit store is shared by other nodes and answering.
    bool sharing() const noexcept;
    bool has_store() const noexcept { return store_ != nullptr; }

    std::size_t account_entries() const;
    std::size_t address_entries() const;
    std::size_t known_address_entries() const;
    // Entries that mattered but were evicted all the same (a table full of them): see
    // docs/security.md. Zero unless max_entries is far too small for the traffic.
    std::uint64_t protected_evictions() const;
    // Refusals by the budget that refused (account, known_address, address).
    std::uint64_t refusals(limit_budget budget) const noexcept;
    // Attempts admitted by this node alone because the store did not answer.
    std::uint64_t local_admissions() const noexcept;

  private:
    struct unshared;
    std::uint64_t user_key(const account_digest& account) const noexcept;
    std::uint64_t known_key(const account_digest& account, std::uint64_t address) const noexcept;
    admission admit_locally(const account_digest& account, std::uint64_t address, bool known,
                            clock::time_point now, bool to_merge);
    admission admit_by_store(const account_digest& account, std::uint64_t address, bool known,
                             clock::time_point now);
    void settle_locally(const account_digest& account, std::uint64_t address,
                        const admission& admitted, outcome result, clock::time_point now);
    void settle_by_store(const account_digest& account, std::uint64_t address,
                         const admission& admitted, outcome result, clock::time_point now);
    void view(std::uint64_t account, std::uint64_t address, const limit_verdict& verdict,
              clock::time_point now);
    void store_failed(const char* during, const std::exception& e) noexcept;
    void store_refused(const char* during, const std::exception& e) noexcept;
    void store_answered(bool seen) noexcept;
    void note_unshared(const account_digest& account, std::uint64_t address, bool known);
    void put_back(std::vector<unshared_count>& counts) noexcept;
    bool merge_one_by_one(std::vector<unshared_count>& counts, std::size_t& merged) noexcept;
    check_result refused(std::uint32_t account_wait, std::uint32_t address_wait,
                         bool known) const noexcept;

    limiter_config config_;
    limit_store* store_;
    std::unique_ptr<detail::counter_table> accounts_;  // accounts' and known addresses' budgets
    std::unique_ptr<detail::counter_table> addresses_;
    std::unique_ptr<detail::known_address_table> known_;
    std::unique_ptr<unshared> unshared_;
    bool account_enabled_;
    bool address_enabled_;
    bool known_enabled_;
    std::atomic<bool> store_up_{true};
    std::atomic<bool> unshared_pending_{false};  // counts noted that no merge has taken yet
    mutable std::atomic<std::uint64_t> refusals_[4] = {};
    std::atomic<std::uint64_t> local_admissions_{0};
    event_sink events_;
    clock::time_point next_prune_{};
    std::mutex maintain_mutex_;
    std::mutex merge_mutex_;      // held by the one thread merging after an outage
    unsigned char hash_key_[16];  // crypto_shorthash key, random per process
};

}  // namespace authd
