// The PostgreSQL store_backend: users, revocations and token cutoffs over a pool of blocking libpq
// connections (pg_pool.hpp; store calls run on hash workers, never on I/O threads), each with its
// statements prepared once; a change feed (LISTEN/NOTIFY, pg_change_feed.cpp) that tells authd's
// cache which users another node or authctl changed; and fail-fast behaviour while the server is
// unreachable. The schema: pg_schema.cpp.
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

#include "pg_change_feed.hpp"
#include "pg_connection.hpp"
#include "pg_limit_store.hpp"
#include "pg_pool.hpp"
#include "pg_schema.hpp"

namespace authd::detail {

namespace {

using namespace std::chrono_literals;

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

class pg_backend final : public store_backend,
                         public user_store,
                         public revocation_store,
                         public token_cutoff_store,
                         private pg_runner {
  public:
    user_store& users() override { return *this; }
    revocation_store& revocations() override { return *this; }
    token_cutoff_store& cutoffs() override { return *this; }

    explicit pg_backend(std::string uri)
        : target_(std::move(uri)), pool_([this] { return open_connection(target_); }) {
        auto conn = pg_connect(target_);
        migrate_pg_schema(target_, conn.get());
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
                                pg_integer(target_, pg_text(*result, 0, 1))};
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
            pg_run(target_, conn, pg_begin_sql, {}, PGRES_COMMAND_OK);
            try {
                std::size_t added = 0;
                for (const auto& user : users) {
                    added += rows_changed(*pg_run(target_, conn, insert_user_sql,
                                                  {user.name, user.phc}, PGRES_COMMAND_OK));
                }
                pg_run(target_, conn, pg_commit_sql, {}, PGRES_COMMAND_OK);
                return added;
            } catch (...) {
                pg_roll_back(target_, conn);
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
                out.emplace_back(pg_text(row, 0, 0), pg_integer(target_, pg_text(row, 0, 1)));
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
                out.emplace_back(pg_text(row, 0, 0), pg_integer(target_, pg_text(row, 0, 1)));
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
