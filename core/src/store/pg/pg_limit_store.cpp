#include "pg_limit_store.hpp"

#include <charconv>
#include <cstdlib>
#include <string>

#include "authd/store/store_errors.hpp"

namespace authd::detail {

namespace {

// Accounts travel as 64 hex digits (account_digest::hex()), decoded by the server.
constexpr pg_statement admit_sql{
    "authd_limit_admit",
    "SELECT wait, refused_by, known, a_failures, a_blocked, i_failures, i_blocked FROM "
    "authd_limit_admit(decode($1, 'hex'), $2::bigint, $3::bigint, $4::float8, $5::integer, "
    "$6::float8, $7::float8, $8::float8, $9::integer, $10::float8, $11::float8, $12::float8)",
    12, "cannot admit a login attempt"};
constexpr pg_statement succeed_sql{
    "authd_limit_succeed",
    "SELECT i_failures, i_blocked FROM authd_limit_succeed(decode($1, 'hex'), $2::bigint, "
    "$3::boolean, $4::bigint, $5::float8, $6::integer, $7::integer, $8::integer, $9::float8)",
    9, "cannot record a successful login's counts"};
constexpr pg_statement release_sql{
    "authd_limit_release",
    "SELECT (authd_limit_uncount($1::smallint, decode($2, 'hex'), $3::bigint, $4::bigint, "
    "$5::float8)).failures WHERE $6::boolean UNION ALL SELECT (authd_limit_uncount(2::smallint, "
    "''::bytea, $7::bigint, $4::bigint, $8::float8)).failures WHERE $9::boolean",
    9, "cannot take back an undecided attempt's counts"};
// One statement, so one transaction, for a batch: the arrays as PostgreSQL's text form.
constexpr pg_statement merge_sql{
    "authd_limit_merge",
    "SELECT authd_limit_merge($1::smallint[], $2::text[], $3::bigint[], $4::float8[], "
    "$5::integer, $6::float8, $7::float8, $8::float8, $9::integer, $10::float8, $11::float8, "
    "$12::float8)",
    12, "cannot merge counts made while the server was unreachable"};
constexpr pg_statement known_sql{
    "authd_known_addresses",
    "SELECT encode(account, 'hex'), address, extract(epoch FROM clock_timestamp()) - "
    "last_success FROM "
    "known_addresses WHERE last_success > extract(epoch FROM clock_timestamp()) - $1::float8",
    1, "cannot read the known addresses"};
constexpr pg_statement check_sql{nullptr, "SELECT 1", 0, "cannot reach the server"};
constexpr pg_statement prune_sql{"authd_limit_prune",
                                 "SELECT authd_limit_prune($1::float8, $2::float8, $3::float8)", 3,
                                 "cannot prune the counters"};

std::string seconds(std::chrono::seconds s) {
    return std::to_string(s.count());
}

std::string integer(std::int64_t v) {
    return std::to_string(v);
}

// Addresses are 64-bit keys; SQL's BIGINT is signed: the same bits.
std::string address_text(std::uint64_t address) {
    return std::to_string(static_cast<std::int64_t>(address));
}

double number(std::string_view text) {
    // libpq's text of a double precision: strtod reads every form PostgreSQL writes.
    const std::string copy(text);
    return std::strtod(copy.c_str(), nullptr);
}

limit_budget budget_of(std::string_view text) {
    if (text == "account") {
        return limit_budget::account;
    }
    if (text == "known_address") {
        return limit_budget::known_address;
    }
    if (text == "address") {
        return limit_budget::address;
    }
    return limit_budget::none;
}

class pg_limit_store final : public limit_store {
  public:
    pg_limit_store(const pg_target& target, pg_runner& runner) : target_(target), runner_(runner) {}

    limit_verdict admit(const account_digest& account, std::uint64_t address,
                        const limiter_config& c, std::uint64_t attempt) override {
        const auto name = account.hex();
        const auto addr = address_text(address);
        const auto id = integer(static_cast<std::int64_t>(attempt));
        const auto window =
            seconds(c.known_addresses_on() ? c.known_address_window : std::chrono::seconds(0));
        const auto a_free = integer(c.account.free_failures);
        const auto a_first = seconds(c.account.first_backoff);
        const auto a_max = seconds(c.account.max_backoff);
        const auto a_forgive = seconds(c.account.forgive_every);
        const auto i_free = integer(c.address.free_failures);
        const auto i_first = seconds(c.address.first_backoff);
        const auto i_max = seconds(c.address.max_backoff);
        const auto i_forgive = seconds(c.address.forgive_every);
        const auto r = runner_.run(admit_sql,
                                   {name, addr, id, window, a_free, a_first, a_max, a_forgive,
                                    i_free, i_first, i_max, i_forgive},
                                   PGRES_TUPLES_OK, false);
        if (PQntuples(r.get()) != 1) {
            target_.fail("cannot admit a login attempt: no answer");
        }
        limit_verdict v;
        v.wait = static_cast<std::uint32_t>(number(pg_text(*r, 0, 0)));
        v.refused_by = budget_of(pg_text(*r, 0, 1));
        v.known = pg_text(*r, 0, 2) == "t";
        v.account = {number(pg_text(*r, 0, 3)), number(pg_text(*r, 0, 4))};
        v.address = {number(pg_text(*r, 0, 5)), number(pg_text(*r, 0, 6))};
        return v;
    }

    limit_verdict succeed(const account_digest& account, std::uint64_t address, bool known,
                          const limiter_config& c, std::uint64_t attempt) override {
        const auto name = account.hex();
        const auto addr = address_text(address);
        const auto id = integer(static_cast<std::int64_t>(attempt));
        const auto window =
            seconds(c.known_addresses_on() ? c.known_address_window : std::chrono::seconds(0));
        const auto per_account = integer(static_cast<std::int64_t>(c.known_addresses_per_account));
        const auto a_free = integer(c.account.free_failures);
        const auto i_free = integer(c.address.free_failures);
        const auto i_forgive = seconds(c.address.forgive_every);
        const auto r = runner_.run(succeed_sql,
                                   {name, addr, known ? "true" : "false", id, window, per_account,
                                    a_free, i_free, i_forgive},
                                   PGRES_TUPLES_OK, false);
        limit_verdict v;
        v.known = known;
        if (PQntuples(r.get()) == 1) {
            v.address = {number(pg_text(*r, 0, 0)), number(pg_text(*r, 0, 1))};
        }
        return v;
    }

    void release(const account_digest& account, std::uint64_t address, bool known,
                 const limiter_config& c, std::uint64_t attempt) override {
        const auto name = account.hex();
        const auto addr = address_text(address);
        const auto id = integer(static_cast<std::int64_t>(attempt));
        const auto a_forgive = seconds(c.account.forgive_every);
        const auto i_forgive = seconds(c.address.forgive_every);
        runner_.run(release_sql,
                    {known ? "1" : "0", name, known ? std::string_view(addr) : "0", id, a_forgive,
                     c.account.enabled() ? "true" : "false", addr, i_forgive,
                     c.address.enabled() ? "true" : "false"},
                    PGRES_TUPLES_OK, false);
    }

    void merge(const std::vector<unshared_count>& counts, const limiter_config& c) override {
        if (counts.empty()) {
            return;
        }
        // PostgreSQL's text form of the four arrays: numbers, and hex in double quotes (so that
        // the address budgets' empty account is an element, not nothing).
        std::string kinds = "{";
        std::string accounts = "{";
        std::string addresses = "{";
        std::string failures = "{";
        for (const auto& count : counts) {
            const char* sep = kinds.size() > 1 ? "," : "";
            const bool address_budget = count.budget == limit_budget::address;
            kinds += sep;
            kinds += count.budget == limit_budget::account         ? "0"
                     : count.budget == limit_budget::known_address ? "1"
                                                                   : "2";
            accounts += sep;
            accounts += '"';
            accounts += address_budget ? std::string() : count.account.hex();
            accounts += '"';
            addresses += sep;
            addresses += address_text(count.address);
            failures += sep;
            failures += std::to_string(count.failures);
        }
        for (auto* array : {&kinds, &accounts, &addresses, &failures}) {
            array->push_back('}');
        }
        runner_.run(merge_sql,
                    {kinds, accounts, addresses, failures, integer(c.account.free_failures),
                     seconds(c.account.first_backoff), seconds(c.account.max_backoff),
                     seconds(c.account.forgive_every), integer(c.address.free_failures),
                     seconds(c.address.first_backoff), seconds(c.address.max_backoff),
                     seconds(c.address.forgive_every)},
                    PGRES_TUPLES_OK, false);
    }

    void check() override { runner_.run(check_sql, {}, PGRES_TUPLES_OK, true); }

    std::vector<known_address_entry> known_addresses(const limiter_config& c) override {
        std::vector<known_address_entry> out;
        if (!c.known_addresses_on()) {
            return out;
        }
        const auto window = seconds(c.known_address_window);
        runner_.rows(known_sql, {window}, [&](const PGresult& row) {
            std::int64_t address = 0;
            const auto text = pg_text(row, 0, 1);
            std::from_chars(text.data(), text.data() + text.size(), address);
            const auto account = account_digest::from_hex(pg_text(row, 0, 0));
            if (account) {
                out.push_back(
                    {*account, static_cast<std::uint64_t>(address), number(pg_text(row, 0, 2))});
            }
        });
        return out;
    }

    void prune(const limiter_config& c) override {
        const auto a_forgive = seconds(c.account.forgive_every);
        const auto i_forgive = seconds(c.address.forgive_every);
        const auto window = seconds(c.known_address_window);
        runner_.run(prune_sql, {a_forgive, i_forgive, window}, PGRES_TUPLES_OK, true);
    }

    bool shared() const noexcept override { return true; }

  private:
    const pg_target& target_;
    pg_runner& runner_;
};

}  // namespace

const std::array<const pg_statement*, 6> pg_limit_statements{&admit_sql, &succeed_sql, &release_sql,
                                                             &merge_sql, &known_sql,   &prune_sql};

std::optional<pg_known_address> parse_known_address(std::string_view payload) noexcept {
    const auto space = payload.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 >= payload.size()) {
        return std::nullopt;
    }
    std::int64_t address = 0;
    const auto* end = payload.data() + space;
    const auto [ptr, ec] = std::from_chars(payload.data(), end, address);
    if (ec != std::errc() || ptr != end) {
        return std::nullopt;
    }
    const auto account = account_digest::from_hex(payload.substr(space + 1));
    if (!account) {
        return std::nullopt;
    }
    return pg_known_address{static_cast<std::uint64_t>(address), *account};
}

std::unique_ptr<limit_store> make_pg_limit_store(const pg_target& target, pg_runner& runner) {
    return std::make_unique<pg_limit_store>(target, runner);
}

}  // namespace authd::detail
