// The PostgreSQL backend of user_store: a pool of blocking libpq connections (store calls run on
// hash workers, never on I/O threads), each with its statements prepared once; a change feed
// (LISTEN/NOTIFY, pg_change_feed.cpp) that tells authd's cache which users another node or
// authctl changed; and fail-fast behaviour while the server is unreachable.
#include "pg_backend.hpp"

#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "authd/crypto/jwt.hpp"
#include "authd/store/store_backend.hpp"
#include "authd/util/clock.hpp"

#include "../schema_migration.hpp"
#include "pg_change_feed.hpp"
#include "pg_connection.hpp"
#include "pg_limit_store.hpp"

namespace authd::detail {

namespace {

using namespace std::chrono_literals;

// The database's schema (schema_migration.hpp): step i takes it from version i to i + 1, in the
// transaction that opens the store. Append only.
const std::array<std::string_view, 5> schema_steps{
    // 1: the users table, the same as SQLite's, and its change notifications. Names compare and
    // sort by bytes (COLLATE "C"), as in SQLite, whatever the database's locale. Only updates and
    // deletes notify: the cache holds only users that exist, so an insert never makes it stale
    // (and an import of a million users sends no million notifications). A name too long for a
    // notification's payload (8000 bytes) is sent as '', which drops every cached record.
    R"sql(
CREATE TABLE schema_version(version INTEGER NOT NULL);
INSERT INTO schema_version(version) VALUES (0);
CREATE TABLE users(
    name TEXT COLLATE "C" PRIMARY KEY,
    phc TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE FUNCTION authd_users_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('authd_users',
                      CASE WHEN octet_length(OLD.name) < 8000 THEN OLD.name ELSE '' END);
    IF TG_OP = 'UPDATE' AND NEW.name <> OLD.name THEN
        PERFORM pg_notify('authd_users',
                          CASE WHEN octet_length(NEW.name) < 8000 THEN NEW.name ELSE '' END);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER users_changed AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION authd_users_changed();
)sql",
    // 2: revoked tokens (/logout), kept until the token would have expired, as in SQLite. Each
    // insert notifies every node: the payload is "<exp> <jti>" (a jti is base64url, so it holds
    // no space). Inserting a jti that is there already inserts nothing, and notifies nobody. A jti
    // too long for a payload is sent as '', which makes every node read all revocations again.
    R"sql(
CREATE TABLE revoked_tokens(
    jti TEXT COLLATE "C" PRIMARY KEY,
    exp BIGINT NOT NULL
);
CREATE INDEX revoked_tokens_exp ON revoked_tokens(exp);
CREATE FUNCTION authd_token_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('authd_revocations',
                      CASE WHEN octet_length(NEW.jti) < 7900 THEN NEW.exp::text || ' ' || NEW.jti
                           ELSE '' END);
    RETURN NULL;
END
$$;
CREATE TRIGGER token_revoked AFTER INSERT ON revoked_tokens
    FOR EACH ROW EXECUTE FUNCTION authd_token_revoked();
)sql",
    // 3: token cutoffs, as in SQLite: a user's tokens issued before not_before (unix seconds) are
    // void. Written with each password change and removal, kept when the user is removed. Each
    // insert or raise notifies every node: the payload is "<not_before> <name>" (the name is the
    // rest, spaces and all). A name too long for a payload is sent as '', which makes every node
    // read all cutoffs again.
    R"sql(
CREATE TABLE token_cutoffs(
    name TEXT COLLATE "C" PRIMARY KEY,
    not_before BIGINT NOT NULL
);
CREATE INDEX token_cutoffs_not_before ON token_cutoffs(not_before);
CREATE FUNCTION authd_tokens_cut() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('authd_token_cutoffs',
                      CASE WHEN octet_length(NEW.name) < 7900
                           THEN NEW.not_before::text || ' ' || NEW.name ELSE '' END);
    RETURN NULL;
END
$$;
CREATE TRIGGER tokens_cut AFTER INSERT OR UPDATE ON token_cutoffs
    FOR EACH ROW EXECUTE FUNCTION authd_tokens_cut();
)sql",
    // 4: the brute-force counters every node shares, and the addresses known to each account
    // (pg_limit_store.cpp).
    pg_limits_migration,
    // 5: the counters keyed by the digest of the account's name, never by client bytes as text.
    pg_limits_by_digest_migration,
};

// Waiting for another node's migration is fine; hanging forever is not.
constexpr auto schema_timeout = 30s;

// Prepared once per pooled connection. Preparing checks no privileges, so a runtime role without
// INSERT or DELETE (docs/operations.md) prepares them all the same. Timestamps are Unix seconds on
// the server's clock, the same for every node.
constexpr pg_statement find_hash_sql{"authd_find_hash", "SELECT phc FROM users WHERE name = $1", 1,
                                     "cannot look up a user"};
constexpr pg_statement insert_user_sql{
    "authd_insert_user",
    "INSERT INTO users(name, phc, created_at, updated_at) VALUES ($1, $2, floor(extract(epoch FROM "
    "now()))::bigint, "
    "floor(extract(epoch FROM now()))::bigint) ON CONFLICT (name) DO NOTHING",
    2, "cannot add a user"};
constexpr pg_statement find_login_sql{
    "authd_find_login",
    "SELECT u.phc, COALESCE(c.not_before, 0) FROM users u "
    "LEFT JOIN token_cutoffs c ON c.name = u.name WHERE u.name = $1",
    1, "cannot look up a user"};
// A password change and a removal void the user's tokens in the same statement (so in the same
// transaction): the cutoff becomes the second after the change, never lowered. The count of rows
// is the cutoff's: one exactly when the user existed.
constexpr pg_statement set_hash_sql{
    "authd_set_hash",
    "WITH changed AS (UPDATE users SET phc = $2, updated_at = "
    "floor(extract(epoch FROM now()))::bigint WHERE name = $1 RETURNING name) "
    "INSERT INTO token_cutoffs(name, not_before) "
    "SELECT name, floor(extract(epoch FROM now()))::bigint + 1 FROM changed "
    "ON CONFLICT (name) DO UPDATE SET "
    "not_before = GREATEST(token_cutoffs.not_before, EXCLUDED.not_before)",
    2, "cannot change a password"};
constexpr pg_statement replace_hash_sql{
    "authd_replace_hash",
    "UPDATE users SET phc = $3, updated_at = "
    "floor(extract(epoch FROM now()))::bigint WHERE name = $1 AND phc = $2",
    3, "cannot store a rehashed password"};
constexpr pg_statement remove_user_sql{
    "authd_remove_user",
    "WITH removed AS (DELETE FROM users WHERE name = $1 RETURNING name) "
    "INSERT INTO token_cutoffs(name, not_before) "
    "SELECT name, floor(extract(epoch FROM now()))::bigint + 1 FROM removed "
    "ON CONFLICT (name) DO UPDATE SET "
    "not_before = GREATEST(token_cutoffs.not_before, EXCLUDED.not_before)",
    1, "cannot remove a user"};
constexpr pg_statement list_names_sql{"authd_list_names",
                                      "SELECT name FROM users ORDER BY name COLLATE \"C\"", 0,
                                      "cannot list the users"};
// Exp and now are Unix seconds, sent as decimal text like every parameter.
constexpr pg_statement revoke_sql{
    "authd_revoke",
    "INSERT INTO revoked_tokens(jti, exp) VALUES ($1, $2::bigint) ON CONFLICT (jti) DO NOTHING", 2,
    "cannot revoke a token"};
constexpr pg_statement list_revoked_sql{
    "authd_list_revoked", "SELECT jti, exp FROM revoked_tokens WHERE exp > $1::bigint", 1,
    "cannot list the revoked tokens"};
constexpr pg_statement purge_revoked_sql{"authd_purge_revoked",
                                         "DELETE FROM revoked_tokens WHERE exp <= $1::bigint", 1,
                                         "cannot purge the revoked tokens"};
constexpr pg_statement list_cutoffs_sql{
    "authd_list_cutoffs",
    "SELECT name, not_before FROM token_cutoffs WHERE not_before > $1::bigint", 1,
    "cannot list the token cutoffs"};
constexpr std::array prepared{&find_hash_sql,     &find_login_sql,   &insert_user_sql,
                              &set_hash_sql,      &replace_hash_sql, &remove_user_sql,
                              &list_names_sql,    &revoke_sql,       &list_revoked_sql,
                              &purge_revoked_sql, &list_cutoffs_sql};

constexpr pg_statement begin_sql{nullptr, "BEGIN", 0, "cannot start a transaction"};
constexpr pg_statement commit_sql{nullptr, "COMMIT", 0, "cannot commit"};
constexpr pg_statement rollback_sql{nullptr, "ROLLBACK", 0, "cannot roll back"};

// Best effort: the error at hand is the one to report. A connection left in the transaction (or
// still busy with a statement that timed out) is closed rather than pooled.
void roll_back(const pg_target& target, PGconn* conn) noexcept {
    try {
        pg_run(target, conn, rollback_sql, {}, PGRES_COMMAND_OK);
    } catch (...) {
    }
}

// --- schema ------------------------------------------------------------------------------------

pg_result run_schema(const pg_target& target, PGconn* conn, const char* sql, std::string_view what,
                     ExecStatusType expected = PGRES_TUPLES_OK) {
    return pg_run(target, conn, {nullptr, sql, 0, what}, {}, expected, schema_timeout);
}

std::int64_t to_integer(const pg_target& target, std::string_view text) {
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) {
        target.fail("not an integer: '" + std::string(text) + "'");
    }
    return value;
}

// Whether the schema that tables are created in (the first on the search path) has each authd
// table. Read from pg_class with the statement's snapshot, not with to_regclass(): a name looked
// up (and not found) before the advisory lock could stay cached as absent in this session.
constexpr const char* tables_sql = R"sql(
SELECT EXISTS (SELECT FROM pg_catalog.pg_class
               WHERE relname = 'schema_version' AND relnamespace = current_schema()::regnamespace),
       EXISTS (SELECT FROM pg_catalog.pg_class
               WHERE relname = 'users' AND relnamespace = current_schema()::regnamespace)
)sql";

// The schema version of the database: 0 when it has no authd tables yet.
std::int64_t read_schema_version(const pg_target& target, PGconn* conn) {
    const auto tables = run_schema(target, conn, tables_sql, "cannot read the schema");
    if (pg_text(*tables, 0, 0) != "t") {
        if (pg_text(*tables, 0, 1) == "t") {
            target.fail("not an authd user store (it has a users table but no schema_version)");
        }
        return 0;
    }
    const auto rows = run_schema(target, conn, "SELECT count(*), max(version) FROM schema_version",
                                 "cannot read the schema version");
    if (pg_text(*rows, 0, 0) != "1") {
        target.fail("corrupt schema_version table (it must hold exactly one row)");
    }
    return to_integer(target, pg_text(*rows, 0, 1));
}

// The database as migrate_schema() sees it.
class pg_schema final : public schema_database {
  public:
    pg_schema(const pg_target& target, PGconn* conn) : target_(target), conn_(conn) {}
    std::int64_t schema_version() override { return read_schema_version(target_, conn_); }
    void run_step(std::string_view sql, const std::string& what) override {
        const std::string text(sql);
        run_schema(target_, conn_, text.c_str(), what, PGRES_COMMAND_OK);
    }
    void set_schema_version(std::int64_t version) override {
        pg_run(target_, conn_,
               {nullptr, "UPDATE schema_version SET version = $1::integer", 1,
                "cannot record the schema version"},
               {std::to_string(version)}, PGRES_COMMAND_OK, schema_timeout);
    }
    [[noreturn]] void refuse(const std::string& why) override { target_.fail(why); }

  private:
    const pg_target& target_;
    PGconn* conn_;
};

void apply_migrations(const pg_target& target, PGconn* conn) {
    // Two nodes starting together on a new database: the second waits here, then finds the work
    // done. An advisory lock needs no privilege, so a runtime role that only reads takes it too.
    // (The key is "authd-sv" in ASCII; any constant works, as long as every authd uses the same.)
    run_schema(target, conn, "SELECT pg_advisory_xact_lock(7022364963622303350)",
               "cannot lock the schema");
    pg_schema schema(target, conn);
    migrate_schema(schema, schema_steps);
}

// Brings the database to the current schema, in one transaction. A current schema is only read,
// so a runtime role that may not create tables opens it fine.
void migrate(const pg_target& target, PGconn* conn) {
    pg_run(target, conn, begin_sql, {}, PGRES_COMMAND_OK);
    try {
        apply_migrations(target, conn);
        pg_run(target, conn, commit_sql, {}, PGRES_COMMAND_OK, schema_timeout);
    } catch (...) {
        roll_back(target, conn);
        throw;
    }
}

void prepare_all(const pg_target& target, PGconn* conn) {
    for (const auto* statement : prepared) {
        pg_prepare(target, conn, *statement);
    }
    for (const auto* statement : pg_limit_statements) {
        pg_prepare(target, conn, *statement);
    }
}

// A new connection with every statement prepared.
pg_conn open_connection(const pg_target& target) {
    auto conn = pg_connect(target);
    prepare_all(target, conn.get());
    return conn;
}

std::size_t rows_changed(PGresult& result) {
    const std::string_view text = PQcmdTuples(&result);
    std::size_t count = 0;
    std::from_chars(text.data(), text.data() + text.size(), count);
    return count;
}

// --- the pool ----------------------------------------------------------------------------------

// The pooled connections, and whether the server is reachable. After a failed connection attempt
// the server counts as down: until the backoff has passed, every call that needs a new connection
// fails at once (503) instead of waiting for its own attempt, and then a single caller tries
// again (the probe) while the others still fail at once. So a dead server costs one attempt per
// backoff period, not a queue of hash workers each waiting for connect_timeout.
class connection_pool {
  public:
    explicit connection_pool(const pg_target& target) : target_(target) {}

    // A pooled connection (reused = true) unless fresh, or a new one.
    pg_conn acquire(bool fresh, bool& reused) {
        bool probe = false;
        {
            const std::lock_guard lock(mutex_);
            if (!fresh && !idle_.empty()) {
                auto conn = std::move(idle_.back());
                idle_.pop_back();
                reused = true;
                return conn;
            }
            if (down_) {
                const auto now = pg_clock::now();
                if (probing_) {
                    throw store_unavailable(down_reason_ + "; reconnecting");
                }
                if (now < retry_at_) {
                    throw store_unavailable(down_reason_ + "; next attempt in " +
                                            std::to_string(wait_ms(now)) + " ms");
                }
                probing_ = probe = true;
            }
        }
        reused = false;
        return connect(probe);
    }

    // Takes back a connection after a call. One that is broken or mid-statement is closed; a lost
    // one means the server went away or restarted, so the idle ones are dropped too.
    void release(pg_conn conn) noexcept {
        if (!conn) {
            return;
        }
        if (pg_idle(conn.get())) {
            try {
                const std::lock_guard lock(mutex_);
                idle_.push_back(std::move(conn));
            } catch (...) {
                // No memory to pool it: closing it is as good.
            }
            return;
        }
        if (PQstatus(conn.get()) != CONNECTION_OK) {
            drop_idle();
        }
    }

    // Pools a connection opened elsewhere (the one that migrated the schema).
    void add(pg_conn conn) {
        const std::lock_guard lock(mutex_);
        idle_.push_back(std::move(conn));
    }

    // Someone else reached the server (the change feed): no need to wait for the backoff.
    void reachable() noexcept {
        const std::lock_guard lock(mutex_);
        down_ = false;
        backoff_.reset();
    }

    // The server is connected but not answering (or answers "not now"): fail fast for a while.
    void mark_down(const std::string& reason) noexcept {
        try {
            const std::lock_guard lock(mutex_);
            if (!down_) {
                set_down(reason);
            }
        } catch (...) {
            // No memory for the reason: the next call finds out by itself.
        }
        drop_idle();
    }

  private:
    pg_conn connect(bool probe) {
        try {
            auto conn = open_connection(target_);
            const std::lock_guard lock(mutex_);
            end_probe(probe);
            down_ = false;
            backoff_.reset();
            return conn;
        } catch (const store_unavailable& e) {
            const std::lock_guard lock(mutex_);
            end_probe(probe);
            // Only the first failure, or the probe's, moves the next attempt further away.
            if (probe || !down_) {
                set_down(e.what());
            }
            throw;
        } catch (...) {
            const std::lock_guard lock(mutex_);
            end_probe(probe);
            throw;
        }
    }

    // With mutex_ held.
    void end_probe(bool probe) noexcept {
        if (probe) {
            probing_ = false;
        }
    }

    // With mutex_ held.
    void set_down(const std::string& reason) {
        down_ = true;
        retry_at_ = pg_clock::now() + backoff_.next();
        down_reason_ = reason;
    }

    long long wait_ms(pg_clock::time_point now) const {
        if (now >= retry_at_) {
            return 0;
        }
        return std::chrono::ceil<std::chrono::milliseconds>(retry_at_ - now).count();
    }

    void drop_idle() noexcept {
        std::vector<pg_conn> dropped;
        {
            const std::lock_guard lock(mutex_);
            dropped.swap(idle_);
        }
        // Closed here, outside the lock.
    }

    const pg_target& target_;
    std::mutex mutex_;
    // Guarded by mutex_:
    std::vector<pg_conn> idle_;
    bool down_ = false;
    bool probing_ = false;
    pg_clock::time_point retry_at_;
    pg_backoff backoff_;
    std::string down_reason_;
};

// A connection held by one thread for one store call.
class pool_lease {
  public:
    pool_lease(connection_pool& pool, bool fresh)
        : pool_(pool), conn_(pool.acquire(fresh, reused_)) {}
    ~pool_lease() { pool_.release(std::move(conn_)); }
    pool_lease(const pool_lease&) = delete;
    pool_lease& operator=(const pool_lease&) = delete;

    PGconn* get() const noexcept { return conn_.get(); }
    // Whether it came from the pool (and so may have died while idle).
    bool reused() const noexcept { return reused_; }

  private:
    connection_pool& pool_;
    bool reused_ = false;
    pg_conn conn_;
};

// --- the store ---------------------------------------------------------------------------------

class pg_backend final : public store_backend,
                         public user_store,
                         public revocation_store,
                         public token_cutoff_store,
                         private pg_runner {
  public:
    user_store& users() override { return *this; }
    revocation_store& revocations() override { return *this; }
    token_cutoff_store& cutoffs() override { return *this; }

    explicit pg_backend(std::string uri) : target_(std::move(uri)), pool_(target_) {
        auto conn = pg_connect(target_);
        migrate(target_, conn.get());
        prepare_all(target_, conn.get());
        pool_.add(std::move(conn));
    }

    std::optional<std::string> find_hash(std::string_view name) override {
        return with_connection(retry::once, [&](PGconn* conn) -> std::optional<std::string> {
            const auto result = pg_run(target_, conn, find_hash_sql, {name}, PGRES_TUPLES_OK);
            if (PQntuples(result.get()) == 0) {
                return std::nullopt;
            }
            return std::string(pg_text(*result));
        });
    }

    std::optional<login_record> find_login(std::string_view name) override {
        return with_connection(retry::once, [&](PGconn* conn) -> std::optional<login_record> {
            const auto result = pg_run(target_, conn, find_login_sql, {name}, PGRES_TUPLES_OK);
            if (PQntuples(result.get()) == 0) {
                return std::nullopt;
            }
            return login_record{std::string(pg_text(*result, 0, 0)),
                                to_integer(target_, pg_text(*result, 0, 1))};
        });
    }

    bool add_user(std::string_view name, std::string_view phc) override {
        return changed(insert_user_sql, {name, phc});
    }

    std::size_t add_users(const std::vector<user_record>& users) override {
        if (users.empty()) {
            return 0;
        }
        return with_connection(retry::never, [&](PGconn* conn) {
            pg_run(target_, conn, begin_sql, {}, PGRES_COMMAND_OK);
            try {
                std::size_t added = 0;
                for (const auto& user : users) {
                    added += rows_changed(*pg_run(target_, conn, insert_user_sql,
                                                  {user.name, user.phc}, PGRES_COMMAND_OK));
                }
                pg_run(target_, conn, commit_sql, {}, PGRES_COMMAND_OK);
                return added;
            } catch (...) {
                roll_back(target_, conn);
                throw;
            }
        });
    }

    bool set_hash(std::string_view name, std::string_view phc) override {
        return changed(set_hash_sql, {name, phc});
    }

    bool replace_hash(std::string_view name, std::string_view expected_phc,
                      std::string_view new_phc) override {
        return changed(replace_hash_sql, {name, expected_phc, new_phc});
    }

    bool remove_user(std::string_view name) override { return changed(remove_user_sql, {name}); }

    void for_each_name(const std::function<void(std::string_view)>& fn) override {
        with_connection(retry::never, [&](PGconn* conn) {
            pg_run_rows(target_, conn, list_names_sql, {},
                        [&](const PGresult& row) { fn(pg_text(row)); });
        });
    }

    // Revoking is idempotent (a jti revoked already stays as it is), and so is purging: unlike
    // the other writes, both are tried again on a new connection when the pooled one was dead.
    void revoke_token(std::string_view jti, std::int64_t exp) override {
        const auto exp_text = std::to_string(exp);
        with_connection(retry::once, [&](PGconn* conn) {
            pg_run(target_, conn, revoke_sql, {jti, exp_text}, PGRES_COMMAND_OK);
        });
    }

    std::vector<std::pair<std::string, std::int64_t>> revoked_tokens(std::int64_t now) override {
        const auto now_text = std::to_string(now);
        return with_connection(retry::once, [&](PGconn* conn) {
            std::vector<std::pair<std::string, std::int64_t>> out;
            pg_run_rows(target_, conn, list_revoked_sql, {now_text}, [&](const PGresult& row) {
                out.emplace_back(pg_text(row, 0, 0), to_integer(target_, pg_text(row, 0, 1)));
            });
            return out;
        });
    }

    void purge_revoked_tokens(std::int64_t now) override {
        const auto now_text = std::to_string(now);
        with_connection(retry::once, [&](PGconn* conn) {
            pg_run(target_, conn, purge_revoked_sql, {now_text}, PGRES_COMMAND_OK);
        });
    }

    std::vector<std::pair<std::string, std::int64_t>> token_cutoffs(std::int64_t since) override {
        const auto since_text = std::to_string(since);
        return with_connection(retry::once, [&](PGconn* conn) {
            std::vector<std::pair<std::string, std::int64_t>> out;
            pg_run_rows(target_, conn, list_cutoffs_sql, {since_text}, [&](const PGresult& row) {
                out.emplace_back(pg_text(row, 0, 0), to_integer(target_, pg_text(row, 0, 1)));
            });
            return out;
        });
    }

    // Changes made elsewhere are pushed to the change listener instead.
    bool poll_external_changes() override { return false; }

    void set_change_listener(change_listener* listener) override {
        const std::lock_guard lock(feed_mutex_);
        if (feed_) {
            feed_->set_listener(listener);
        } else if (listener != nullptr) {
            // Started on demand: authctl, which never listens, needs no thread or connection.
            // Once the feed is back after an outage, it drops the cache, and every user that was
            // cached needs the store at once: let the pool connect now rather than after its
            // backoff, so that they do not get 503 meanwhile. Revocations and token cutoffs made
            // while the feed did not listen are read again from their tables.
            feed_ = std::make_unique<pg_change_feed>(
                target_, listener, [this] { pool_.reachable(); },
                [this] { return revoked_tokens(unix_now() - token_clock_leeway_seconds); },
                [this] { return token_cutoffs(unix_now() - max_token_ttl_seconds); },
                [this] { return limits_list(); });
        }
    }

    limit_store* limits() override {
        const std::lock_guard lock(limits_mutex_);
        if (!limits_) {
            limits_ = make_pg_limit_store(target_, *this);
        }
        return limits_.get();
    }

  private:
    enum class retry { never, once };

    pg_result run(const pg_statement& statement, std::initializer_list<std::string_view> params,
                  ExecStatusType expected, bool idempotent) override {
        return with_connection(idempotent ? retry::once : retry::never, [&](PGconn* conn) {
            return pg_run(target_, conn, statement, params, expected);
        });
    }

    void rows(const pg_statement& statement, std::initializer_list<std::string_view> params,
              const std::function<void(const PGresult&)>& row) override {
        with_connection(retry::once,
                        [&](PGconn* conn) { pg_run_rows(target_, conn, statement, params, row); });
    }

    // Every known address, for the change feed's resync (the limiter applies its own window).
    std::vector<known_address_entry> limits_list() {
        limiter_config everything;
        everything.known_address_window = std::chrono::hours(24 * 3660);
        return limits()->known_addresses(everything);
    }

    // Runs fn(conn) on a pooled connection. A read that finds its pooled connection dead (the
    // server restarted since it was last used) is tried once more on a new connection, which also
    // tells whether the server is back. A write is not: it may have been applied before the
    // connection died, and doing it twice would report the wrong outcome.
    template <typename Fn>
    auto with_connection(retry policy, Fn&& fn) -> decltype(fn(nullptr)) {
        {
            pool_lease conn(pool_, false);
            try {
                return attempt(conn, fn);
            } catch (const store_unavailable&) {
                if (policy == retry::never || !conn.reused() ||
                    PQstatus(conn.get()) == CONNECTION_OK) {
                    throw;
                }
            }
        }
        pool_lease fresh(pool_, true);
        return attempt(fresh, fn);
    }

    template <typename Fn>
    auto attempt(pool_lease& conn, Fn& fn) -> decltype(fn(nullptr)) {
        try {
            return fn(conn.get());
        } catch (const store_unavailable& e) {
            // Connected, yet no answer in time (or "not now"): the next callers had better fail
            // at once for a while than each wait for the statement timeout.
            if (PQstatus(conn.get()) == CONNECTION_OK) {
                pool_.mark_down(e.what());
            }
            throw;
        }
    }

    // Runs a statement that changes at most one row; true when it did.
    bool changed(const pg_statement& statement, std::initializer_list<std::string_view> params) {
        return with_connection(retry::never, [&](PGconn* conn) {
            return rows_changed(*pg_run(target_, conn, statement, params, PGRES_COMMAND_OK)) == 1;
        });
    }

    pg_target target_;
    connection_pool pool_;
    std::mutex limits_mutex_;
    std::unique_ptr<limit_store> limits_;  // guarded by limits_mutex_, made on demand
    std::mutex feed_mutex_;
    std::unique_ptr<pg_change_feed> feed_;  // guarded by feed_mutex_; destroyed first
};

}  // namespace

std::unique_ptr<store_backend> open_pg_backend(const std::string& uri) {
    return std::make_unique<pg_backend>(uri);
}

}  // namespace authd::detail
