// Where the brute-force counters live beyond one process's memory (docs/security.md, "Limits
// that outlive a process and span nodes"): PostgreSQL (shared by every node) and SQLite (a file
// beside the store, for one node) keep them so that an attacker gets no fresh budget from a
// restart, and, with PostgreSQL, none from spreading guesses over nodes.
//
// The store is the authority: admit() decides and counts in one atomic step, so attempts that
// arrive at once on any number of nodes are admitted exactly as if one after the other. An
// admitted attempt counts as a failure at once (in the account's or the known address's budget,
// and in the address's): a node that dies mid-hash leaves a failure, never a reservation that
// holds forever. A success then clears the budget it was counted in and takes the count back from
// the address; an attempt that was not decided takes both back.
//
// Accounts are known to a store by the digest of their name (account_digest), never by the name:
// a User-Name is whatever bytes a client sent (not UTF-8, 8 KB long), and an attempt on any of
// them must count like any other. PostgreSQL refuses such bytes as text (an encoding error, a
// btree row too long), which once made one request count for ever (issue 29).
//
// Every call may block (network, disk): attempt_limiter calls it only from hash workers. Failures
// are thrown as store_error (store_unavailable when the store cannot be reached): the limiter then
// counts locally until the store answers again, and merges what it counted.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace authd {

// One budget's policy. Its defaults are limiter_config's (a policy made without values is off).
struct limit_policy {
    std::uint32_t free_failures = 0;        // failures allowed before any wait; 0: off
    std::chrono::seconds first_backoff{0};  // the wait after the first failure past them
    std::chrono::seconds max_backoff{0};    // the wait never grows past this
    std::chrono::seconds forgive_every{0};  // one failure is forgotten per interval

    bool enabled() const noexcept { return free_failures > 0; }
};

// A store records a known address's last success again only once the one it holds is older than
// this (a success at a known address costs no write of it otherwise; PostgreSQL's
// authd_limit_succeed spells the same 3600 s), so an address stays known from its last recorded
// success for the window: between window - 1 h and the window after the owner's last success.
constexpr std::chrono::seconds known_address_refresh{3600};
// The shortest known-address window: twice the refresh, so that an owner who logs in at least
// every (window - refresh) is never forgotten.
constexpr std::chrono::seconds min_known_address_window{2 * known_address_refresh};

// The defaults of authd's settings (docs/configuration.md takes them from --help).
struct limiter_config {
    // An account's budget, shared by every address not known to it; also the policy of each
    // known address's own budget.
    limit_policy account{10, std::chrono::seconds(1), std::chrono::minutes(15),
                         std::chrono::seconds(60)};
    limit_policy address{30, std::chrono::seconds(1), std::chrono::minutes(5),
                         std::chrono::seconds(10)};
    std::size_t max_entries = 100'000;  // per table (accounts, addresses, known addresses)
    // An address the account logged in from within this window has a budget of its own for the
    // account; 0 turns known addresses off, and any other value is at least
    // min_known_address_window.
    std::chrono::seconds known_address_window{std::chrono::hours(24 * 30)};
    // The most recent addresses kept per account.
    std::size_t known_addresses_per_account = 4;

    bool known_addresses_on() const noexcept {
        return account.enabled() && known_address_window.count() > 0;
    }
};

// The arithmetic of a budget, one definition for every place that counts (the SQL of the
// PostgreSQL store spells out the same). Failures left after forgiving one per forgive_every over
// elapsed seconds:
double forgiven_failures(double failures, double elapsed_seconds,
                         const limit_policy& policy) noexcept;
// The wait after a failure that leaves excess (> 0) failures past the free ones: first_backoff
// doubled for each failure past the first excess one, at most max_backoff.
double backoff_seconds(double excess, const limit_policy& policy) noexcept;

// An account as the counters know it: the SHA-256 of its name's bytes, whatever they are. The same
// on every node (so that they share one row), computable in SQL for a migration
// (sha256(textsend(name)) in PostgreSQL), and as long for an 8 KB name as for "alice".
struct account_digest {
    std::array<unsigned char, 32> bytes{};

    static account_digest of(std::string_view name) noexcept;
    // 64 lowercase hex digits: how it travels to PostgreSQL (decode($n, 'hex')) and in its
    // notifications.
    std::string hex() const;
    // The digest of 64 hex digits (either case); nullopt for anything else.
    static std::optional<account_digest> from_hex(std::string_view hex) noexcept;

    bool operator==(const account_digest&) const = default;
};

// Which budget an attempt is counted in, or which one refused it.
enum class limit_budget : std::uint8_t {
    none,           // admitted (or nothing refused it)
    account,        // the account's budget, shared by every address not known to it
    known_address,  // the budget of an address the account logged in from lately
    address,        // the client address's budget, across accounts
};
std::string_view budget_name(limit_budget budget) noexcept;

// A counter as the store holds it after a call, relative to the store's clock (nodes' clocks
// need not agree): failures after forgiveness, and how long it waits still.
struct counter_view {
    double failures = 0;
    double blocked_seconds = 0;  // 0: not waiting
};

struct limit_verdict {
    std::uint32_t wait = 0;  // 0: admitted (and counted); else the seconds to wait
    limit_budget refused_by = limit_budget::none;
    bool known = false;    // the address is known to the account: its own budget was used
    counter_view account;  // the account's budget used (known or shared)
    counter_view address;
};

// Failures a node counted by itself while the store could not be reached, to merge.
struct unshared_count {
    limit_budget budget;     // account, known_address or address
    account_digest account;  // the account (all zero for an address)
    std::uint64_t address = 0;
    double failures = 0;
};

// An address an account logged in from, and how long ago (seconds).
struct known_address_entry {
    account_digest account;
    std::uint64_t address = 0;
    double age_seconds = 0;
};

class limit_store {
  public:
    virtual ~limit_store() = default;

    // Admits (counting it) or refuses one attempt on account from address under config. attempt
    // is this attempt's id (random, not 0): a later succeed() or release() undoes only the wait
    // that this attempt's count set.
    virtual limit_verdict admit(const account_digest& account, std::uint64_t address,
                                const limiter_config& config, std::uint64_t attempt) = 0;

    // An admitted attempt succeeded: the budget it was counted in (known or not) is cleared, the
    // address's count taken back, and the address becomes (or stays) known to the account.
    // Returns the counters after.
    virtual limit_verdict succeed(const account_digest& account, std::uint64_t address, bool known,
                                  const limiter_config& config, std::uint64_t attempt) = 0;

    // An admitted attempt was not decided (store error, shutdown): both counts are taken back.
    virtual void release(const account_digest& account, std::uint64_t address, bool known,
                         const limiter_config& config, std::uint64_t attempt) = 0;

    // Adds failures counted locally to the store's counters (a wait only ever lengthens), all in
    // one transaction: thrown, none of them was added.
    virtual void merge(const std::vector<unshared_count>& counts, const limiter_config& config) = 0;

    // Every address known to an account within the window, for a node's local view.
    virtual std::vector<known_address_entry> known_addresses(const limiter_config& config) = 0;

    // Forgets counters that have nothing left to count and known addresses past the window.
    virtual void prune(const limiter_config& config) = 0;

    // One round trip to where the counters are kept, changing nothing; throws (store_unavailable,
    // store_error) when it does not answer. The limiter's upkeep asks it while the store is
    // counted as unreachable and nothing waits to be merged.
    virtual void check() = 0;

    // True when other processes share these counters (PostgreSQL): /metrics says so.
    virtual bool shared() const noexcept = 0;
};

}  // namespace authd
