// The SQLite backend of user_store: a pool of connections, each with its statements prepared once,
// plus one connection of its own that watches PRAGMA data_version for poll_external_changes().
#include "sqlite_store.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unistd.h>
#include <utility>
#include <vector>

#include <sqlite3.h>

#include "authd/user_store.hpp"

namespace authd::detail {

namespace {

// How long a statement waits for another connection's (or process's) write lock before failing
// with "database is locked".
constexpr int busy_timeout_ms = 5000;

// Entry i takes the schema from version i to i + 1. Append only: never edit a released entry,
// databases out there have run it already. Each runs inside the transaction that opens the store.
constexpr std::array<std::string_view, 3> migrations{
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
constexpr std::int64_t current_schema_version = migrations.size();

std::string store_name(const std::string& path) {
    return "sqlite:" + path;
}

[[noreturn]] void fail(const std::string& path, std::string_view what) {
    throw store_error(store_name(path) + ": " + std::string(what));
}

// A failed SQLite call: the message names the database, what we tried and SQLite's reason.
[[noreturn]] void fail(const std::string& path, std::string_view what, sqlite3* db) {
    const char* reason = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    fail(path, std::string(what) + ": " + reason);
}

std::int64_t unix_now() {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    return std::chrono::duration_cast<std::chrono::seconds>(now).count();
}

struct db_closer {
    void operator()(sqlite3* db) const noexcept { sqlite3_close(db); }
};
using db_handle = std::unique_ptr<sqlite3, db_closer>;

// A statement prepared once for the life of its connection.
class statement {
  public:
    statement(sqlite3* db, const std::string& path, std::string_view sql) : db_(db), path_(&path) {
        if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                               SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK) {
            fail(path, "cannot prepare '" + std::string(sql) + "'", db);
        }
    }
    ~statement() { sqlite3_finalize(stmt_); }
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;

    sqlite3_stmt* get() const noexcept { return stmt_; }
    sqlite3* db() const noexcept { return db_; }

    [[noreturn]] void fail_on(std::string_view action) const {
        fail(*path_, std::string(action) + " '" + sqlite3_sql(stmt_) + "'", db_);
    }

  private:
    sqlite3* db_;
    const std::string* path_;
    sqlite3_stmt* stmt_ = nullptr;
};

// One use of a prepared statement. Parameters are bound without copying (the caller's views
// outlive the query); on scope exit the statement is reset and its bindings cleared, so that it
// starts clean next time and holds no pointer to the caller's data.
class query {
  public:
    explicit query(const statement& stmt) : stmt_(stmt) {}
    ~query() {
        sqlite3_reset(stmt_.get());
        sqlite3_clear_bindings(stmt_.get());
    }
    query(const query&) = delete;
    query& operator=(const query&) = delete;

    query& bind(int index, std::string_view text) {
        // A null pointer would bind SQL NULL, not an empty string.
        const char* data = text.data() != nullptr ? text.data() : "";
        check_bind(
            sqlite3_bind_text64(stmt_.get(), index, data, text.size(), SQLITE_STATIC, SQLITE_UTF8));
        return *this;
    }

    query& bind(int index, std::int64_t value) {
        check_bind(sqlite3_bind_int64(stmt_.get(), index, value));
        return *this;
    }

    // True when a row is ready, false when the statement is done.
    bool next_row() {
        const int rc = sqlite3_step(stmt_.get());
        if (rc == SQLITE_ROW) {
            return true;
        }
        if (rc != SQLITE_DONE) {
            stmt_.fail_on("cannot run");
        }
        return false;
    }

    // Runs the statement to its end; returns how many rows it inserted, changed or deleted.
    int run() {
        while (next_row()) {
        }
        return sqlite3_changes(stmt_.db());
    }

    // The text of a column of the current row; valid until the next step.
    std::string_view text(int column) const {
        const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_.get(), column));
        if (data == nullptr) {
            if (sqlite3_errcode(stmt_.db()) == SQLITE_NOMEM) {
                stmt_.fail_on("out of memory reading a row of");
            }
            return {};  // SQL NULL
        }
        return {data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), column))};
    }

    std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_.get(), column); }

  private:
    void check_bind(int rc) const {
        if (rc != SQLITE_OK) {
            stmt_.fail_on("cannot bind a parameter of");
        }
    }

    const statement& stmt_;
};

// For statements that run once (setup, migrations): several statements in one string allowed.
void exec(sqlite3* db, const std::string& path, std::string_view sql, std::string_view what) {
    if (sqlite3_exec(db, std::string(sql).c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
        fail(path, what, db);
    }
}

// The first column of the first row of a one-off statement.
std::int64_t query_integer(sqlite3* db, const std::string& path, std::string_view sql) {
    const statement stmt(db, path, sql);
    query q(stmt);
    if (!q.next_row()) {
        stmt.fail_on("no row from");
    }
    return q.integer(0);
}

std::string query_text(sqlite3* db, const std::string& path, std::string_view sql) {
    const statement stmt(db, path, sql);
    query q(stmt);
    if (!q.next_row()) {
        stmt.fail_on("no row from");
    }
    return std::string(q.text(0));
}

// SQLite's own message for all of these is "unable to open database file".
void check_location(const std::string& path) {
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    if (dir.empty()) {
        dir = ".";
    }
    std::error_code ec;
    const auto dir_type = std::filesystem::status(dir, ec).type();
    if (dir_type == std::filesystem::file_type::not_found) {
        fail(path, "directory " + dir.string() + " does not exist");
    }
    if (!ec && dir_type != std::filesystem::file_type::directory) {
        fail(path, dir.string() + " is not a directory");
    }
    // Even for an existing file: WAL mode keeps its -wal and -shm files beside the database.
    if (access(dir.c_str(), W_OK | X_OK) != 0) {
        fail(path, "directory " + dir.string() + " is not writable");
    }
    if (std::filesystem::is_directory(path, ec)) {
        fail(path, "it is a directory, not a database file");
    }
}

void configure(sqlite3* db, const std::string& path) {
    // First, so that the statements below wait for a lock held by another process.
    sqlite3_busy_timeout(db, busy_timeout_ms);
    // SQLite opens lazily: this first read is what finds a file that is not a database.
    exec(db, path, "SELECT count(*) FROM sqlite_master", "cannot read the file");
    // Readers never block the writer and the writer never blocks readers: logins go on while
    // authctl imports. The mode is stored in the file; setting it again is a no-op.
    const std::string mode = query_text(db, path, "PRAGMA journal_mode = WAL");
    if (mode != "wal") {
        fail(path, "cannot switch to WAL journal mode (still " + mode + ")");
    }
    exec(db, path, "PRAGMA foreign_keys = ON", "cannot enable foreign keys");
}

// A new, configured connection. Each is used by one thread at a time (the pool sees to it), so
// SQLite's per-connection mutex is not needed.
db_handle open_db(const std::string& path) {
    check_location(path);
    sqlite3* raw = nullptr;
    const int rc =
        sqlite3_open_v2(path.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    db_handle db(raw);  // closed on every path, even when the open failed
    if (rc != SQLITE_OK) {
        fail(path, "cannot open", raw);
    }
    // SQLite falls back to read-only for a write-protected file; a store must take writes.
    if (sqlite3_db_readonly(raw, "main") == 1) {
        fail(path, "the file is read-only (no write permission)");
    }
    configure(raw, path);
    return db;
}

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

void set_schema_version(sqlite3* db, const std::string& path, std::int64_t version) {
    const statement stmt(db, path, "UPDATE schema_version SET version = ?1");
    query update(stmt);
    update.bind(1, version).run();
}

void apply_migrations(sqlite3* db, const std::string& path) {
    const std::int64_t version = read_schema_version(db, path);
    if (version > current_schema_version) {
        fail(path, "schema version " + std::to_string(version) +
                       " is newer than this authd knows (" +
                       std::to_string(current_schema_version) + "); use a newer authd");
    }
    if (version < 0) {
        fail(path, "corrupt schema_version table (negative version)");
    }
    for (auto v = version; v < current_schema_version; ++v) {
        exec(db, path, migrations.at(static_cast<std::size_t>(v)),
             "cannot migrate the schema to version " + std::to_string(v + 1));
        set_schema_version(db, path, v + 1);
    }
}

// Brings the file to the current schema in one transaction: another process opening the same
// file at the same time waits (IMMEDIATE takes the write lock first), then finds it done.
void migrate(sqlite3* db, const std::string& path) {
    exec(db, path, "BEGIN IMMEDIATE", "cannot start the schema transaction");
    try {
        apply_migrations(db, path);
        exec(db, path, "COMMIT", "cannot commit the schema");
    } catch (...) {
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

// One pooled connection and its statements. Statements are declared after db so that they are
// finalized before it is closed.
struct connection {
    connection(const std::string& path, db_handle handle)
        : db(std::move(handle)),
          find_hash(db.get(), path, "SELECT phc FROM users WHERE name = ?1"),
          find_login(db.get(), path,
                     "SELECT u.phc, coalesce(c.not_before, 0) FROM users AS u "
                     "LEFT JOIN token_cutoffs AS c ON c.name = u.name WHERE u.name = ?1"),
          insert_user(db.get(), path,
                      "INSERT OR IGNORE INTO users(name, phc, created_at, updated_at) "
                      "VALUES (?1, ?2, ?3, ?3)"),
          set_hash(db.get(), path, "UPDATE users SET phc = ?2, updated_at = ?3 WHERE name = ?1"),
          replace_hash(db.get(), path,
                       "UPDATE users SET phc = ?3, updated_at = ?4 WHERE name = ?1 AND phc = ?2"),
          remove_user(db.get(), path, "DELETE FROM users WHERE name = ?1"),
          list_names(db.get(), path, "SELECT name FROM users ORDER BY name"),
          revoke(db.get(), path, "INSERT OR IGNORE INTO revoked_tokens(jti, exp) VALUES (?1, ?2)"),
          list_revoked(db.get(), path, "SELECT jti, exp FROM revoked_tokens WHERE exp > ?1"),
          purge_revoked(db.get(), path, "DELETE FROM revoked_tokens WHERE exp <= ?1"),
          cut_tokens(db.get(), path,
                     "INSERT INTO token_cutoffs(name, not_before) VALUES (?1, ?2) "
                     "ON CONFLICT(name) DO UPDATE SET not_before = "
                     "max(not_before, excluded.not_before)"),
          list_cutoffs(db.get(), path,
                       "SELECT name, not_before FROM token_cutoffs WHERE not_before > ?1"),
          // IMMEDIATE: take the write lock up front, so that the busy timeout applies (a
          // deferred transaction upgrading to a write could fail at once with SQLITE_BUSY).
          begin(db.get(), path, "BEGIN IMMEDIATE"),
          commit(db.get(), path, "COMMIT"),
          rollback(db.get(), path, "ROLLBACK") {}

    // A connection left inside a transaction (a failed rollback) is closed, not reused.
    bool reusable() const noexcept { return sqlite3_get_autocommit(db.get()) != 0; }

    db_handle db;
    statement find_hash;
    statement find_login;
    statement insert_user;
    statement set_hash;
    statement replace_hash;
    statement remove_user;
    statement list_names;
    statement revoke;
    statement list_revoked;
    statement purge_revoked;
    statement cut_tokens;
    statement list_cutoffs;
    statement begin;
    statement commit;
    statement rollback;
};

// A write transaction on a connection, rolled back unless committed.
class transaction {
  public:
    explicit transaction(connection& conn) : conn_(conn) { query(conn_.begin).run(); }
    ~transaction() {
        if (!committed_) {
            // Failure leaves the connection in the transaction; the pool then drops it.
            sqlite3_step(conn_.rollback.get());
            sqlite3_reset(conn_.rollback.get());
        }
    }
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;

    void commit() {
        query(conn_.commit).run();
        committed_ = true;
    }

  private:
    connection& conn_;
    bool committed_ = false;
};

// Tells whether any other connection committed to the file since the last look. "Other" means
// any connection but this watcher's own: another process, and also this store's pooled
// connections, so a write made through this very store is reported too (its caller may drop a
// cache it could have kept; never the reverse).
class change_watch {
  public:
    explicit change_watch(const std::string& path)
        : db_(open_db(path)),
          data_version_(db_.get(), path, "PRAGMA data_version"),
          last_(read()) {}

    bool changed() {
        const std::int64_t now = read();
        const bool differs = now != last_;
        last_ = now;
        return differs;
    }

  private:
    std::int64_t read() {
        query q(data_version_);
        if (!q.next_row()) {
            data_version_.fail_on("no row from");
        }
        return q.integer(0);
    }

    db_handle db_;
    statement data_version_;
    std::int64_t last_;
};

class sqlite_store final : public user_store {
  public:
    explicit sqlite_store(std::string path) : path_(std::move(path)), watch_(open_first()) {}

    std::optional<std::string> find_hash(std::string_view name) override {
        lease conn(*this);
        query q(conn->find_hash);
        q.bind(1, name);
        if (!q.next_row()) {
            return std::nullopt;
        }
        return std::string(q.text(0));
    }

    bool add_user(std::string_view name, std::string_view phc) override {
        lease conn(*this);
        return query(conn->insert_user).bind(1, name).bind(2, phc).bind(3, unix_now()).run() == 1;
    }

    std::size_t add_users(const std::vector<user_record>& users) override {
        if (users.empty()) {
            return 0;
        }
        lease conn(*this);
        transaction tx(*conn);
        const std::int64_t now = unix_now();
        std::size_t added = 0;
        for (const auto& user : users) {
            query insert(conn->insert_user);
            added += static_cast<std::size_t>(
                insert.bind(1, user.name).bind(2, user.phc).bind(3, now).run());
        }
        tx.commit();
        return added;
    }

    std::optional<login_record> find_login(std::string_view name) override {
        lease conn(*this);
        query q(conn->find_login);
        q.bind(1, name);
        if (!q.next_row()) {
            return std::nullopt;
        }
        return login_record{std::string(q.text(0)), q.integer(1)};
    }

    bool set_hash(std::string_view name, std::string_view phc) override {
        return change_voiding_tokens(name, [&](connection& conn, std::int64_t now) {
            return query(conn.set_hash).bind(1, name).bind(2, phc).bind(3, now).run() == 1;
        });
    }

    bool replace_hash(std::string_view name, std::string_view expected_phc,
                      std::string_view new_phc) override {
        lease conn(*this);
        query update(conn->replace_hash);
        update.bind(1, name).bind(2, expected_phc).bind(3, new_phc).bind(4, unix_now());
        return update.run() == 1;
    }

    bool remove_user(std::string_view name) override {
        return change_voiding_tokens(name, [&](connection& conn, std::int64_t) {
            return query(conn.remove_user).bind(1, name).run() == 1;
        });
    }

    std::vector<std::pair<std::string, std::int64_t>> token_cutoffs(std::int64_t since) override {
        return text_integer_rows(&connection::list_cutoffs, since);
    }

    void for_each_name(const std::function<void(std::string_view)>& fn) override {
        lease conn(*this);
        query q(conn->list_names);
        while (q.next_row()) {
            fn(q.text(0));
        }
    }

    void revoke_token(std::string_view jti, std::int64_t exp) override {
        lease conn(*this);
        query(conn->revoke).bind(1, jti).bind(2, exp).run();
    }

    std::vector<std::pair<std::string, std::int64_t>> revoked_tokens(std::int64_t now) override {
        return text_integer_rows(&connection::list_revoked, now);
    }

    void purge_revoked_tokens(std::int64_t now) override {
        lease conn(*this);
        query(conn->purge_revoked).bind(1, now).run();
    }

    bool poll_external_changes() override {
        const std::lock_guard lock(watch_mutex_);
        return watch_.changed();
    }

  private:
    // Runs change(conn, now), a statement that is true when it changed name's row, and then voids
    // name's tokens issued up to now (unix seconds, floored: those of that very second too, hence
    // a cutoff of now + 1), in one transaction.
    template <typename Change>
    bool change_voiding_tokens(std::string_view name, Change&& change) {
        lease conn(*this);
        transaction tx(*conn);
        const std::int64_t now = unix_now();  // with the write lock held: commits keep its order
        if (!change(*conn, now)) {
            return false;
        }
        query(conn->cut_tokens).bind(1, name).bind(2, now + 1).run();
        tx.commit();
        return true;
    }

    // The (text, integer) rows of a listing statement that takes one integer.
    std::vector<std::pair<std::string, std::int64_t>> text_integer_rows(
        statement connection::*listing, std::int64_t parameter) {
        lease conn(*this);
        query q((*conn).*listing);
        q.bind(1, parameter);
        std::vector<std::pair<std::string, std::int64_t>> out;
        while (q.next_row()) {
            out.emplace_back(std::string(q.text(0)), q.integer(1));
        }
        return out;
    }

    // A pooled connection, held by one thread for the length of one call.
    class lease {
      public:
        explicit lease(sqlite_store& store) : store_(store), conn_(store.acquire()) {}
        ~lease() { store_.release(std::move(conn_)); }
        lease(const lease&) = delete;
        lease& operator=(const lease&) = delete;

        connection* operator->() const noexcept { return conn_.get(); }
        connection& operator*() const noexcept { return *conn_; }

      private:
        sqlite_store& store_;
        std::unique_ptr<connection> conn_;
    };

    // Opens the first connection, migrates the schema through it and pools it; returns the path
    // for the watcher, which must open after the migration (its connection is not migrated).
    const std::string& open_first() {
        db_handle db = open_db(path_);
        migrate(db.get(), path_);
        free_.push_back(std::make_unique<connection>(path_, std::move(db)));
        return path_;
    }

    // A free connection, or a new one when all are busy: the pool grows to the number of threads
    // that call the store at once (the hash workers) and stays there.
    std::unique_ptr<connection> acquire() {
        {
            const std::lock_guard lock(pool_mutex_);
            if (!free_.empty()) {
                auto conn = std::move(free_.back());
                free_.pop_back();
                return conn;
            }
        }
        return std::make_unique<connection>(path_, open_db(path_));
    }

    void release(std::unique_ptr<connection> conn) noexcept {
        if (!conn || !conn->reusable()) {
            return;  // closed here
        }
        try {
            const std::lock_guard lock(pool_mutex_);
            free_.push_back(std::move(conn));
        } catch (...) {
            // No memory to pool it: closing it is as good.
        }
    }

    std::string path_;
    std::mutex pool_mutex_;
    std::vector<std::unique_ptr<connection>> free_;  // guarded by pool_mutex_
    std::mutex watch_mutex_;
    change_watch watch_;  // guarded by watch_mutex_
};

}  // namespace

std::unique_ptr<user_store> open_sqlite_store(const std::string& path) {
    if (path.empty() || path == ":memory:") {
        // Each pooled connection would see a database of its own.
        throw store_error("sqlite:" + path + ": a store needs a database file path");
    }
    return std::make_unique<sqlite_store>(path);
}

}  // namespace authd::detail
