// The PostgreSQL store's schema (schema_migration.hpp's mechanism): its steps, and how a
// database's version is read and brought up to date, under an advisory lock, in one transaction.
#include "pg_schema.hpp"

#include <array>
#include <charconv>
#include <chrono>
#include <string>
#include <string_view>

#include "../schema_migration.hpp"
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

pg_result run_schema(const pg_target& target, PGconn* conn, const char* sql, std::string_view what,
                     ExecStatusType expected = PGRES_TUPLES_OK) {
    return pg_run(target, conn, {nullptr, sql, 0, what}, {}, expected, schema_timeout);
}

}  // namespace

std::int64_t pg_integer(const pg_target& target, std::string_view text) {
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) {
        target.fail("not an integer: '" + std::string(text) + "'");
    }
    return value;
}

namespace {

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
    return pg_integer(target, pg_text(*rows, 0, 1));
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
}  // namespace

void migrate_pg_schema(const pg_target& target, PGconn* conn) {
    pg_run(target, conn, pg_begin_sql, {}, PGRES_COMMAND_OK);
    try {
        apply_migrations(target, conn);
        pg_run(target, conn, pg_commit_sql, {}, PGRES_COMMAND_OK, schema_timeout);
    } catch (...) {
        pg_roll_back(target, conn);
        throw;
    }
}

}  // namespace authd::detail
