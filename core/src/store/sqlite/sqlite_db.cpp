#include "sqlite_db.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <system_error>
#include <unistd.h>

#include "authd/store/user_store.hpp"

namespace authd::detail {

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

namespace {

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

}  // namespace

// Creates a missing store file readable and writable by its owner only, whatever the umask: it
// holds every password hash. SQLite gives the -wal, -shm and -journal files it creates beside it
// the database file's permissions, so they are private too. A file that exists is left as it is.
void create_private(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
        ::close(fd);  // an empty file is an empty database
    } else if (errno != EEXIST) {
        fail(path, std::string("cannot create the file: ") + std::strerror(errno));
    }
}

// A new, configured connection. Each is used by one thread at a time (the pool sees to it), so
// SQLite's per-connection mutex is not needed. Only the store's first open may create the file:
// one that disappears later is not silently replaced by an empty store.
db_handle open_db(const std::string& path, bool create) {
    check_location(path);
    if (create) {
        create_private(path);
    }
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(
        path.c_str(), &raw,
        SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX, nullptr);
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

}  // namespace authd::detail
