// SQLite plumbing shared by the SQLite store and its limit store, private to core/: naming a
// database in messages, prepared statements and their queries, the one write transaction, opening
// and configuring a connection, creating a private file.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <sqlite3.h>

namespace authd::detail {

// How long a statement waits for another connection's (or process's) write lock before failing
// with "database is locked".
constexpr int busy_timeout_ms = 5000;

// "sqlite:PATH", for messages.
std::string store_name(const std::string& path);

// store_error: "sqlite:PATH: what" (with SQLite's reason when db is given).
[[noreturn]] void fail(const std::string& path, std::string_view what);
[[noreturn]] void fail(const std::string& path, std::string_view what, sqlite3* db);

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

    query& bind_blob(int index, const unsigned char* data, std::size_t size) {
        // A zero-length blob, not SQL NULL, when size is 0.
        check_bind(sqlite3_bind_blob64(stmt_.get(), index, size > 0 ? data : empty_blob, size,
                                       SQLITE_STATIC));
        return *this;
    }

    query& bind(int index, std::int64_t value) {
        check_bind(sqlite3_bind_int64(stmt_.get(), index, value));
        return *this;
    }

    query& bind(int index, double value) {
        check_bind(sqlite3_bind_double(stmt_.get(), index, value));
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

    // The bytes of a column of the current row as a blob; valid until the next step.
    std::span<const unsigned char> blob(int column) const {
        const auto* data =
            static_cast<const unsigned char*>(sqlite3_column_blob(stmt_.get(), column));
        if (data == nullptr) {
            return {};
        }
        return {data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), column))};
    }

    std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_.get(), column); }
    double real(int column) const { return sqlite3_column_double(stmt_.get(), column); }

  private:
    void check_bind(int rc) const {
        if (rc != SQLITE_OK) {
            stmt_.fail_on("cannot bind a parameter of");
        }
    }

    static constexpr unsigned char empty_blob[1] = {0};
    const statement& stmt_;
};

// The statements of a write transaction, prepared once per connection. IMMEDIATE takes the write
// lock up front, so that the busy timeout applies (a deferred transaction upgrading to a write
// could fail at once with SQLITE_BUSY); authd may be a file's only writer, but an operator's
// sqlite3 shell may hold it.
struct transaction_statements {
    transaction_statements(sqlite3* db, const std::string& path)
        : begin(db, path, "BEGIN IMMEDIATE"),
          commit(db, path, "COMMIT"),
          rollback(db, path, "ROLLBACK") {}
    statement begin;
    statement commit;
    statement rollback;
};

// A write transaction, rolled back unless committed. A rollback that fails leaves the connection
// in the transaction (sqlite3_get_autocommit() says so): its owner closes it rather than reuse it.
class transaction {
  public:
    explicit transaction(transaction_statements& s) : s_(s) { query(s_.begin).run(); }
    ~transaction() {
        if (!committed_) {
            sqlite3_step(s_.rollback.get());
            sqlite3_reset(s_.rollback.get());
        }
    }
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;

    void commit() {
        query(s_.commit).run();
        committed_ = true;
    }

  private:
    transaction_statements& s_;
    bool committed_ = false;
};

// For statements that run once (setup, migrations): several statements in one string allowed.
void exec(sqlite3* db, const std::string& path, std::string_view sql, std::string_view what);

// The first column of the first row of a one-off statement.
std::int64_t query_integer(sqlite3* db, const std::string& path, std::string_view sql);
std::string query_text(sqlite3* db, const std::string& path, std::string_view sql);

// Creates a missing file readable and writable by its owner only, whatever the umask (SQLite gives
// the -wal, -shm and -journal files it creates beside it the same permissions).
void create_private(const std::string& path);

// A new, configured connection (busy timeout, WAL). Each is used by one thread at a time, so
// SQLite's per-connection mutex is not needed. Only with create is a missing file made.
db_handle open_db(const std::string& path, bool create = false);

}  // namespace authd::detail
