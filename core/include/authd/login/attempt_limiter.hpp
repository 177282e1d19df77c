// Brute-force limits: failed logins counted per account and per client address; past a threshold
// further attempts are refused before any hashing, for a time that doubles with each further
// failure and shrinks as failures are forgiven with time (docs/security.md).
//
// An attempt counts from the moment it is admitted to hashing (admit), not from its outcome: it
// holds a reservation in both counts until settle() says how it ended. So attempts that arrive
// together are admitted exactly as if they had come one after the other, on any number of
// threads: with F free failures, at most F + 1 are hashed before the first refusal.
//
// Thread-safe; every call takes one short-held shard mutex and never does I/O, so I/O threads may
// call it. Memory is bounded: each table holds at most max_entries keys, and keys are 64-bit keyed
// hashes (SipHash), so a long user name costs no more than a short one. Only admit() and
// record_failure() create entries (retry_after() never does), and an entry that matters (past its
// free failures, waiting, or with an attempt in flight) is evicted only when a whole sample of
// the table holds nothing else (docs/security.md says what that takes).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace authd {

// One table's policy. Its defaults are limiter_config's (a policy made without values is off).
struct limit_policy {
    std::uint32_t free_failures = 0;        // failures allowed before any wait; 0: off
    std::chrono::seconds first_backoff{0};  // the wait after the first failure past them
    std::chrono::seconds max_backoff{0};    // the wait never grows past this
    std::chrono::seconds forgive_every{0};  // one failure is forgotten per interval

    bool enabled() const noexcept { return free_failures > 0; }
};

// The defaults of authd's settings (docs/configuration.md takes them from --help).
struct limiter_config {
    limit_policy account{10, std::chrono::seconds(1), std::chrono::minutes(15),
                         std::chrono::seconds(60)};
    limit_policy address{30, std::chrono::seconds(1), std::chrono::minutes(5),
                         std::chrono::seconds(10)};
    std::size_t max_entries = 100'000;  // per table (accounts, addresses)
};

// A client address reduced to what identifies a client: an IPv4 address, or the /64 prefix of an
// IPv6 address (one host usually owns a whole /64). IPv4-mapped IPv6 counts as IPv4.
std::uint64_t address_key(const std::array<unsigned char, 16>& ipv6) noexcept;
std::uint64_t address_key(std::uint32_t ipv4_host_order) noexcept;

class attempt_limiter {
  public:
    using clock = std::chrono::steady_clock;

    explicit attempt_limiter(const limiter_config& config);
    ~attempt_limiter();
    attempt_limiter(const attempt_limiter&) = delete;
    attempt_limiter& operator=(const attempt_limiter&) = delete;

    // Seconds the client must wait before this attempt is allowed (rounded up), 0 when allowed.
    // Reads only (creates no entry): the cheap check before a login is queued.
    std::uint32_t retry_after(std::string_view user, std::uint64_t address,
                              clock::time_point now) const;

    // Admits one attempt to hashing, or refuses it: 0 when admitted (the attempt now counts, as a
    // reservation, in the account's and the address's counts until settle()), else the seconds to
    // wait. An attempt is refused while the count waits, and also when the reservations already
    // in flight would use up the free failures (Retry-After 1: their outcome is due shortly).
    std::uint32_t admit(std::string_view user, std::uint64_t address, clock::time_point now);

    enum class outcome : std::uint8_t {
        failure,   // wrong password or unknown user: the reservation becomes a failure
        success,   // the account's count is cleared (the address keeps its own)
        abandoned  // not decided (store error, shutdown): the reservation is released
    };
    // Ends an admitted attempt. Call exactly once per admit() that returned 0.
    void settle(std::string_view user, std::uint64_t address, outcome result,
                clock::time_point now);

    // A failure without a reservation (as admit() then settle(failure)).
    void record_failure(std::string_view user, std::uint64_t address, clock::time_point now);

    // A success without a reservation: clears the account's count (the address keeps its own: one
    // right password among many wrong ones does not excuse the others).
    void record_success(std::string_view user, clock::time_point now);

    std::size_t account_entries() const;
    std::size_t address_entries() const;
    // Entries that mattered but were evicted all the same (a table full of them): see
    // docs/security.md. Zero unless max_entries is far too small for the traffic.
    std::uint64_t protected_evictions() const;

  private:
    class table;
    std::uint64_t user_key(std::string_view user) const noexcept;

    std::unique_ptr<table> accounts_;
    std::unique_ptr<table> addresses_;
    bool account_enabled_;
    bool address_enabled_;
    unsigned char hash_key_[16];  // crypto_shorthash key, random per process
};

}  // namespace authd
