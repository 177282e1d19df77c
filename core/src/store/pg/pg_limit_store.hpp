// The PostgreSQL store's brute-force counters, private to core/: the limit_store that every node
// shares (authd/store/limit_store.hpp). Its tables and functions are the store's schema versions 4
// and 5; it runs its statements on the store's connections.
#pragma once

#include <array>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string_view>

#include "authd/store/limit_store.hpp"

#include "pg_connection.hpp"

namespace authd::detail {

// Schema version 4: the counters, the known addresses and the functions that count.
extern const char* const pg_limits_migration;
// Schema version 5: accounts keyed by the digest of their name (account_digest), not by the name.
extern const char* const pg_limits_by_digest_migration;

// The channel the known_addresses table's trigger notifies, with "<address> <account>" as payload
// (the account's digest in hex).
inline constexpr const char* pg_known_addresses_channel = "authd_known_addresses";

// "<address> <account>": the address a signed decimal, the account 64 hex digits. nullopt for
// anything else (a payload of a version-4 node, "<address> <name>", among them).
struct pg_known_address {
    std::uint64_t address;
    account_digest account;
};
std::optional<pg_known_address> parse_known_address(std::string_view payload) noexcept;

// The statements the store prepares on each of its connections.
extern const std::array<const pg_statement*, 6> pg_limit_statements;

// How the limit store reaches the server: runs a prepared statement on one of the store's
// connections (retried once on a fresh connection when idempotent), or reads its rows.
class pg_runner {
  public:
    virtual ~pg_runner() = default;
    virtual pg_result run(const pg_statement& statement,
                          std::initializer_list<std::string_view> params, ExecStatusType expected,
                          bool idempotent) = 0;
    virtual void rows(const pg_statement& statement, std::initializer_list<std::string_view> params,
                      const std::function<void(const PGresult&)>& row) = 0;
};

std::unique_ptr<limit_store> make_pg_limit_store(const pg_target& target, pg_runner& runner);

}  // namespace authd::detail
