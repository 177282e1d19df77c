// The counters' file: one connection (a login's two short transactions are far cheaper than the
// hash they guard), in WAL mode with synchronous=NORMAL: a commit is in the file (the kernel's
// page cache) before the hash starts, so it survives authd crashing or being killed; only the
// machine losing power can lose the last commits (the users' file keeps SQLite's default).
// The arithmetic is limit_store.cpp's, the same as the PostgreSQL store's SQL.
#include "sqlite_limit_store.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <mutex>
#include <optional>
#include <span>

#include "authd/store/user_store.hpp"

#include "../schema_migration.hpp"
#include "sqlite_db.hpp"

namespace authd::detail {

namespace {

// The counters file's schema (schema_migration.hpp), its version in PRAGMA user_version.
// 1: the counters and known addresses, by name.
// 2: accounts by the SHA-256 of their name (account_digest), as PostgreSQL's store keeps them: a
//    blob, whatever bytes the name holds; an address's budget has the empty account. Version 1's
//    rows keep their counts under the name's digest (authd_sha256, a function of this
//    connection's), so that an upgrade gives no attacker a fresh budget and no owner loses a
//    known address.
constexpr std::array<std::string_view, 2> counter_schema_steps{
    R"sql(
CREATE TABLE limit_counters(
    kind INTEGER NOT NULL,
    name TEXT NOT NULL,
    address INTEGER NOT NULL,
    failures REAL NOT NULL,
    updated REAL NOT NULL,
    blocked_until REAL NOT NULL,
    blocked_by INTEGER NOT NULL,
    PRIMARY KEY (kind, name, address)
) WITHOUT ROWID;
CREATE TABLE known_addresses(
    name TEXT NOT NULL,
    address INTEGER NOT NULL,
    last_success REAL NOT NULL,
    PRIMARY KEY (name, address)
) WITHOUT ROWID;
)sql",
    R"sql(
ALTER TABLE limit_counters RENAME TO limit_counters_v1;
ALTER TABLE known_addresses RENAME TO known_addresses_v1;
CREATE TABLE limit_counters(
    kind INTEGER NOT NULL,
    account BLOB NOT NULL,
    address INTEGER NOT NULL,
    failures REAL NOT NULL,
    updated REAL NOT NULL,
    blocked_until REAL NOT NULL,
    blocked_by INTEGER NOT NULL,
    PRIMARY KEY (kind, account, address)
) WITHOUT ROWID;
CREATE TABLE known_addresses(
    account BLOB NOT NULL,
    address INTEGER NOT NULL,
    last_success REAL NOT NULL,
    PRIMARY KEY (account, address)
) WITHOUT ROWID;
INSERT INTO limit_counters
    SELECT kind, CASE WHEN kind = 2 THEN x'' ELSE authd_sha256(name) END, address, failures,
           updated, blocked_until, blocked_by
      FROM limit_counters_v1;
INSERT INTO known_addresses SELECT authd_sha256(name), address, last_success
      FROM known_addresses_v1;
DROP TABLE limit_counters_v1;
DROP TABLE known_addresses_v1;
)sql",
};

// authd_sha256(x): account_digest::of the bytes of x, for the migration.
void sha256_function(sqlite3_context* context, int, sqlite3_value** argv) {
    const auto* data = static_cast<const char*>(sqlite3_value_blob(argv[0]));
    const auto size = static_cast<std::size_t>(sqlite3_value_bytes(argv[0]));
    const auto digest = account_digest::of(std::string_view(data != nullptr ? data : "", size));
    sqlite3_result_blob(context, digest.bytes.data(), static_cast<int>(digest.bytes.size()),
                        SQLITE_TRANSIENT);
}

// An address's budget: the empty account.
constexpr std::span<const unsigned char> no_account{};

// kind: as in the PostgreSQL store.
constexpr std::int64_t kind_account = 0;
constexpr std::int64_t kind_known = 1;
constexpr std::int64_t kind_address = 2;

double unix_seconds() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

struct row {
    double failures = 0;
    double updated = 0;
    double blocked_until = 0;
    std::int64_t blocked_by = 0;
};

struct statements {
    explicit statements(sqlite3* db, const std::string& path)
        : get(db, path,
              "SELECT failures, updated, blocked_until, blocked_by FROM limit_counters "
              "WHERE kind = ?1 AND account = ?2 AND address = ?3"),
          put(db, path,
              "INSERT OR REPLACE INTO limit_counters VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
          erase(db, path,
                "DELETE FROM limit_counters WHERE kind = ?1 AND account = ?2 AND address = ?3"),
          known(db, path,
                "SELECT 1 FROM known_addresses WHERE account = ?1 AND address = ?2 AND "
                "last_success > ?3"),
          remember(db, path,
                   "INSERT INTO known_addresses VALUES (?1, ?2, ?3) ON CONFLICT (account, "
                   "address) DO UPDATE SET last_success = excluded.last_success "
                   "WHERE last_success < excluded.last_success - ?4"),
          trim(db, path,
               "DELETE FROM known_addresses WHERE account = ?1 AND address NOT IN (SELECT address "
               "FROM known_addresses WHERE account = ?1 ORDER BY last_success DESC LIMIT ?2)"),
          list(db, path,
               "SELECT account, address, ?1 - last_success FROM known_addresses WHERE "
               "last_success > ?1 - ?2"),
          prune(db, path,
                "DELETE FROM limit_counters WHERE blocked_until <= ?1 AND updated + failures * "
                "CASE WHEN kind = 2 THEN ?2 ELSE ?3 END <= ?1"),
          prune_known(db, path, "DELETE FROM known_addresses WHERE last_success <= ?1 - ?2"),
          tx(db, path) {}

    statement get, put, erase, known, remember, trim, list, prune, prune_known;
    transaction_statements tx;
};

double seconds(std::chrono::seconds s) {
    return static_cast<double>(s.count());
}

class sqlite_limit_store final : public limit_store {
  public:
    explicit sqlite_limit_store(std::string path) : path_(std::move(path)), db_(open(path_)) {
        statements_ = std::make_unique<statements>(db_.get(), path_);
    }

    ~sqlite_limit_store() override { statements_.reset(); }  // finalized before the connection
    sqlite_limit_store(const sqlite_limit_store&) = delete;
    sqlite_limit_store& operator=(const sqlite_limit_store&) = delete;

    limit_verdict admit(const account_digest& account, std::uint64_t address,
                        const limiter_config& c, std::uint64_t attempt) override {
        const std::span<const unsigned char> name(account.bytes);
        const std::lock_guard lock(mutex_);
        transaction tx(statements_->tx);
        const double t = unix_seconds();
        const auto addr = static_cast<std::int64_t>(address);
        limit_verdict v;
        v.known = c.known_addresses_on() && is_known(name, addr, t, c);
        const auto kind = v.known ? kind_known : kind_account;
        const auto account_addr = v.known ? addr : 0;
        const bool account_on = c.account.enabled();
        const bool address_on = c.address.enabled();
        auto a = account_on ? get(kind, name, account_addr) : row{};
        auto i = address_on ? get(kind_address, no_account, addr) : row{};
        v.account = view(a, t, c.account);
        v.address = view(i, t, c.address);
        if (v.account.blocked_seconds > 0 || v.address.blocked_seconds > 0) {
            const auto longest = std::max(v.account.blocked_seconds, v.address.blocked_seconds);
            v.wait = static_cast<std::uint32_t>(std::max(1.0, std::ceil(longest)));
            v.refused_by = v.account.blocked_seconds >= v.address.blocked_seconds
                               ? (v.known ? limit_budget::known_address : limit_budget::account)
                               : limit_budget::address;
            tx.commit();
            return v;
        }
        if (account_on) {
            v.account = count(a, t, c.account, attempt);
            put(kind, name, account_addr, a);
        }
        if (address_on) {
            v.address = count(i, t, c.address, attempt);
            put(kind_address, no_account, addr, i);
        }
        tx.commit();
        return v;
    }

    limit_verdict succeed(const account_digest& account, std::uint64_t address, bool known,
                          const limiter_config& c, std::uint64_t attempt) override {
        const std::span<const unsigned char> name(account.bytes);
        const std::lock_guard lock(mutex_);
        transaction tx(statements_->tx);
        const double t = unix_seconds();
        const auto addr = static_cast<std::int64_t>(address);
        limit_verdict v;
        v.known = known;
        if (c.account.enabled()) {
            query(statements_->erase)
                .bind(1, known ? kind_known : kind_account)
                .bind_blob(2, name.data(), name.size())
                .bind(3, known ? addr : std::int64_t{0})
                .run();
        }
        if (c.address.enabled()) {
            v.address = uncount(kind_address, no_account, addr, t, c.address, attempt);
        }
        // Recorded when new or older than known_address_refresh, and trimmed only then: a
        // success at an address recorded within the hour writes nothing more (as PostgreSQL's).
        if (c.known_addresses_on()) {
            query(statements_->remember)
                .bind_blob(1, name.data(), name.size())
                .bind(2, addr)
                .bind(3, t)
                .bind(4, seconds(known_address_refresh))
                .run();
            if (sqlite3_changes(db_.get()) > 0) {
                query(statements_->trim)
                    .bind_blob(1, name.data(), name.size())
                    .bind(2, static_cast<std::int64_t>(c.known_addresses_per_account))
                    .run();
            }
        }
        tx.commit();
        return v;
    }

    void release(const account_digest& account, std::uint64_t address, bool known,
                 const limiter_config& c, std::uint64_t attempt) override {
        const std::span<const unsigned char> name(account.bytes);
        const std::lock_guard lock(mutex_);
        transaction tx(statements_->tx);
        const double t = unix_seconds();
        const auto addr = static_cast<std::int64_t>(address);
        if (c.account.enabled()) {
            uncount(known ? kind_known : kind_account, name, known ? addr : 0, t, c.account,
                    attempt);
        }
        if (c.address.enabled()) {
            uncount(kind_address, no_account, addr, t, c.address, attempt);
        }
        tx.commit();
    }

    void merge(const std::vector<unshared_count>& counts, const limiter_config& c) override {
        const std::lock_guard lock(mutex_);
        transaction tx(statements_->tx);
        const double t = unix_seconds();
        for (const auto& n : counts) {
            const auto kind = n.budget == limit_budget::account         ? kind_account
                              : n.budget == limit_budget::known_address ? kind_known
                                                                        : kind_address;
            const auto& policy = kind == kind_address ? c.address : c.account;
            const auto addr = static_cast<std::int64_t>(n.address);
            const auto name =
                kind == kind_address ? no_account : std::span<const unsigned char>(n.account.bytes);
            auto r = get(kind, name, addr);
            r.failures = forgiven_failures(r.failures, t - r.updated, policy) + n.failures;
            r.updated = t;
            if (r.failures > policy.free_failures) {
                r.blocked_until =
                    std::max(r.blocked_until,
                             t + backoff_seconds(r.failures - policy.free_failures, policy));
            }
            put(kind, name, addr, r);
        }
        tx.commit();
    }

    std::vector<known_address_entry> known_addresses(const limiter_config& c) override {
        std::vector<known_address_entry> out;
        if (!c.known_addresses_on()) {
            return out;
        }
        const std::lock_guard lock(mutex_);
        query q(statements_->list);
        q.bind(1, unix_seconds()).bind(2, seconds(c.known_address_window));
        while (q.next_row()) {
            const auto bytes = q.blob(0);
            account_digest account;
            if (bytes.size() != account.bytes.size()) {
                continue;  // not a digest: nobody's
            }
            std::copy(bytes.begin(), bytes.end(), account.bytes.begin());
            out.push_back({account, static_cast<std::uint64_t>(q.integer(1)), q.real(2)});
        }
        return out;
    }

    void prune(const limiter_config& c) override {
        const std::lock_guard lock(mutex_);
        const double t = unix_seconds();
        query(statements_->prune)
            .bind(1, t)
            .bind(2, seconds(c.address.forgive_every))
            .bind(3, seconds(c.account.forgive_every))
            .run();
        query(statements_->prune_known).bind(1, t).bind(2, seconds(c.known_address_window)).run();
    }

    // An empty write transaction: the file's lock taken and let go, nothing written.
    void check() override {
        const std::lock_guard lock(mutex_);
        transaction tx(statements_->tx);
        tx.commit();
    }

    bool shared() const noexcept override { return false; }

  private:
    // The counters file as migrate_schema() sees it.
    class counters_file final : public schema_database {
      public:
        counters_file(sqlite3* db, const std::string& path) : db_(db), path_(path) {}
        std::int64_t schema_version() override {
            return query_integer(db_, path_, "PRAGMA user_version");
        }
        void run_step(std::string_view sql, const std::string& what) override {
            exec(db_, path_, sql, what);
        }
        void set_schema_version(std::int64_t version) override {
            exec(db_, path_, "PRAGMA user_version = " + std::to_string(version),
                 "cannot set the counters' schema version");
        }
        [[noreturn]] void refuse(const std::string& why) override { fail(path_, why); }

      private:
        sqlite3* db_;
        const std::string& path_;
    };

    static db_handle open(const std::string& path) {
        auto db = open_db(path, true);
        exec(db.get(), path, "PRAGMA synchronous = NORMAL", "cannot set synchronous mode");
        if (sqlite3_create_function(db.get(), "authd_sha256", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                    nullptr, &sha256_function, nullptr, nullptr) != SQLITE_OK) {
            fail(path, "cannot register the migration's digest function", db.get());
        }
        exec(db.get(), path, "BEGIN IMMEDIATE", "cannot start the counters' schema transaction");
        try {
            counters_file file(db.get(), path);
            migrate_schema(file, counter_schema_steps, "counters' schema");
            exec(db.get(), path, "COMMIT", "cannot commit the counters' schema");
        } catch (...) {
            sqlite3_exec(db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
            throw;
        }
        return db;
    }

    bool is_known(std::span<const unsigned char> name, std::int64_t addr, double t,
                  const limiter_config& c) {
        query q(statements_->known);
        q.bind_blob(1, name.data(), name.size())
            .bind(2, addr)
            .bind(3, t - seconds(c.known_address_window));
        return q.next_row();
    }

    row get(std::int64_t kind, std::span<const unsigned char> name, std::int64_t addr) {
        query q(statements_->get);
        q.bind(1, kind).bind_blob(2, name.data(), name.size()).bind(3, addr);
        if (!q.next_row()) {
            return {};
        }
        return {q.real(0), q.real(1), q.real(2), q.integer(3)};
    }

    void put(std::int64_t kind, std::span<const unsigned char> name, std::int64_t addr,
             const row& r) {
        query(statements_->put)
            .bind(1, kind)
            .bind_blob(2, name.data(), name.size())
            .bind(3, addr)
            .bind(4, r.failures)
            .bind(5, r.updated)
            .bind(6, r.blocked_until)
            .bind(7, r.blocked_by)
            .run();
    }

    static counter_view view(const row& r, double t, const limit_policy& policy) {
        return {forgiven_failures(r.failures, t - r.updated, policy),
                std::max(0.0, r.blocked_until - t)};
    }

    // Counts an admitted attempt in r as a failure (the wait it sets is the attempt's).
    static counter_view count(row& r, double t, const limit_policy& policy, std::uint64_t attempt) {
        r.failures = forgiven_failures(r.failures, t - r.updated, policy) + 1;
        r.updated = t;
        if (r.failures > policy.free_failures) {
            r.blocked_until = t + backoff_seconds(r.failures - policy.free_failures, policy);
            r.blocked_by = static_cast<std::int64_t>(attempt);
        }
        return view(r, t, policy);
    }

    // Takes an attempt's count back: one failure fewer, its own wait lifted.
    counter_view uncount(std::int64_t kind, std::span<const unsigned char> name, std::int64_t addr,
                         double t, const limit_policy& policy, std::uint64_t attempt) {
        auto r = get(kind, name, addr);
        r.failures = std::max(0.0, forgiven_failures(r.failures, t - r.updated, policy) - 1);
        r.updated = t;
        if (r.blocked_by == static_cast<std::int64_t>(attempt)) {
            r.blocked_until = 0;
        }
        if (r.failures <= 0 && r.blocked_until <= t) {
            query(statements_->erase)
                .bind(1, kind)
                .bind_blob(2, name.data(), name.size())
                .bind(3, addr)
                .run();
        } else {
            put(kind, name, addr, r);
        }
        return view(r, t, policy);
    }

    std::string path_;
    std::mutex mutex_;
    db_handle db_;
    std::unique_ptr<statements> statements_;  // guarded by mutex_
};

}  // namespace

std::unique_ptr<limit_store> open_sqlite_limit_store(const std::string& path) {
    return std::make_unique<sqlite_limit_store>(path);
}

}  // namespace authd::detail
