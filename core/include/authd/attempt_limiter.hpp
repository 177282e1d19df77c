// Brute-force limits: failed logins counted per account and per client address; past a threshold
// further attempts are refused before any hashing, for a time that doubles with each further
// failure and shrinks as failures are forgiven with time (docs/security.md).
//
// Thread-safe; every call takes one short-held shard mutex and never does I/O, so I/O threads may
// call it. Memory is bounded: each table holds at most max_entries keys (the stalest are evicted),
// and keys are 64-bit keyed hashes (SipHash), so a long user name costs no more than a short one.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace authd {

struct limit_policy {
    std::uint32_t free_failures = 10;           // failures allowed before any wait; 0: off
    std::chrono::seconds first_backoff{1};      // the wait after the first failure past them
    std::chrono::seconds max_backoff{15 * 60};  // the wait never grows past this
    std::chrono::seconds forgive_every{60};     // one failure is forgotten per interval

    bool enabled() const noexcept { return free_failures > 0; }
};

struct limiter_config {
    limit_policy account{10, std::chrono::seconds(1), std::chrono::seconds(15 * 60),
                         std::chrono::seconds(60)};
    limit_policy address{30, std::chrono::seconds(1), std::chrono::seconds(5 * 60),
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
    std::uint32_t retry_after(std::string_view user, std::uint64_t address,
                              clock::time_point now) const;

    void record_failure(std::string_view user, std::uint64_t address, clock::time_point now);

    // A success clears the account's count (the address keeps its own: one right password among
    // many wrong ones does not excuse the others).
    void record_success(std::string_view user, clock::time_point now);

    std::size_t account_entries() const;
    std::size_t address_entries() const;

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
