// The SQLite users file's schema (schema_migration.hpp's mechanism): its steps, and how the file's
// version is read and brought up to date.
#include <array>
#include <string>
#include <string_view>

#include "../schema_migration.hpp"
#include "sqlite_db.hpp"
#include "sqlite_parts.hpp"

namespace authd::detail {

namespace {

// The users file's schema (schema_migration.hpp): step i takes it from version i to i + 1, in the
// transaction that opens the store. Append only.
constexpr std::array<std::string_view, 3> user_schema_steps{
    // 1: the users table. schema_version is created here too, so that an empty file is version 0.
    R"sql(
CREATE TABLE schema_version(version INTEGER NOT NULL);
INSERT INTO schema_version(version) VALUES (0);
CREATE TABLE users(
    name TEXT PRIMARY KEY,
    phc TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // 2: revoked tokens (/logout), kept until the token would have expired.
    R"sql(
CREATE TABLE revoked_tokens(
    jti TEXT PRIMARY KEY,
    exp INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX revoked_tokens_exp ON revoked_tokens(exp);
)sql",
    // 3: token cutoffs: a user's tokens issued before not_before (unix seconds) are void. Written
    // with each password change and removal; kept when the user is removed.
    R"sql(
CREATE TABLE token_cutoffs(
    name TEXT PRIMARY KEY,
    not_before INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX token_cutoffs_not_before ON token_cutoffs(not_before);
)sql",
};

// The schema version of the file: 0 for a new, empty file.
std::int64_t read_schema_version(sqlite3* db, const std::string& path) {
    const std::int64_t version_tables = query_integer(
        db, path,
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'");
    if (version_tables == 0) {
        if (query_integer(db, path, "SELECT count(*) FROM sqlite_master") != 0) {
            fail(path, "not an authd user store (it has tables but no schema_version)");
        }
        return 0;
    }
    if (query_integer(db, path, "SELECT count(*) FROM schema_version") != 1) {
        fail(path, "corrupt schema_version table (it must hold exactly one row)");
    }
    return query_integer(db, path, "SELECT version FROM schema_version");
}

void write_schema_version(sqlite3* db, const std::string& path, std::int64_t version) {
    const statement stmt(db, path, "UPDATE schema_version SET version = ?1");
    query update(stmt);
    update.bind(1, version).run();
}

// The users file as migrate_schema() sees it.
class users_file final : public schema_database {
  public:
    users_file(sqlite3* db, const std::string& path) : db_(db), path_(path) {}
    std::int64_t schema_version() override { return read_schema_version(db_, path_); }
    void run_step(std::string_view sql, const std::string& what) override {
        exec(db_, path_, sql, what);
    }
    void set_schema_version(std::int64_t version) override {
        write_schema_version(db_, path_, version);
    }
    [[noreturn]] void refuse(const std::string& why) override { fail(path_, why); }

  private:
    sqlite3* db_;
    const std::string& path_;
};

}  // namespace

void migrate_users_file(sqlite3* db, const std::string& path) {
    exec(db, path, "BEGIN IMMEDIATE", "cannot start the schema transaction");
    try {
        users_file file(db, path);
        migrate_schema(file, user_schema_steps);
        exec(db, path, "COMMIT", "cannot commit the schema");
    } catch (...) {
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

}  // namespace authd::detail
