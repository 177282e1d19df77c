// The parts of the SQLite store_backend (sqlite_backend.cpp), private to core/: the users file's
// schema, a pooled connection with its statements, and how the backend watches its file.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <utility>
#include <vector>

#include <sqlite3.h>

#include "authd/crypto/secret.hpp"

#include "sqlite_db.hpp"

namespace authd::detail {

// Brings the users file to the current schema in one transaction: another process opening the same
// file at the same time waits (IMMEDIATE takes the write lock first), then finds it done
// (sqlite_schema.cpp).
void migrate_users_file(sqlite3* db, const std::string& path);

// One pooled connection and its statements. Statements are declared after db so that they are
// finalized before it is closed.
struct sqlite_connection {
    sqlite_connection(const std::string& path, db_handle handle)
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
          tx(db.get(), path) {}

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
    transaction_statements tx;
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

    sqlite3* db() const noexcept { return db_.get(); }

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

// Which file a path names.
struct file_id {
    dev_t dev = 0;
    ino_t ino = 0;
    bool operator==(const file_id&) const = default;
};

// The file at path now; nullopt when there is none (or it cannot be looked at). One stat(2).
inline std::optional<file_id> file_at(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return std::nullopt;
    }
    return file_id{st.st_dev, st.st_ino};
}

inline std::string describe(const file_id& id) {
    return "device " + std::to_string(id.dev) + ", inode " + std::to_string(id.ino);
}

// The idle connections of a store's file, each reused by the next call: the pool grows to the
// number of threads that call the store at once (the hash workers) and stays there. Thread-safe.
class idle_connections {
  public:
    // An idle connection, or nullptr.
    std::unique_ptr<sqlite_connection> take() {
        const std::lock_guard lock(mutex_);
        if (free_.empty()) {
            return nullptr;
        }
        auto conn = std::move(free_.back());
        free_.pop_back();
        return conn;
    }
    // Keeps conn for the next call, unless it is left in a transaction (then it is closed).
    void give_back(std::unique_ptr<sqlite_connection> conn) noexcept {
        if (!conn || !conn->reusable()) {
            return;
        }
        try {
            const std::lock_guard lock(mutex_);
            free_.push_back(std::move(conn));
        } catch (...) {
            // No memory to pool it: closing it is as good.
        }
    }
    void clear() {
        const std::lock_guard lock(mutex_);
        free_.clear();
    }

  private:
    std::mutex mutex_;
    std::vector<std::unique_ptr<sqlite_connection>> free_;
};

// The warning about a store file that group or others may read ("sqlite:PATH: is accessible by
// group or others (run: chmod 600 PATH); it holds every password hash"), or "".
inline std::string store_file_warning(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return {};
    }
    const auto problem = private_mode_problem(path, st.st_mode);
    return problem.empty() ? std::string()
                           : store_name(path) + ": " + problem + "; it holds every password hash";
}

using revocation_rows = std::vector<std::pair<std::string, std::int64_t>>;

// The revocations a listing statement (list_revoked) gives for now, appended to out.
inline void append_revocations(const statement& list, std::int64_t now, revocation_rows& out) {
    query q(list);
    q.bind(1, now);
    while (q.next_row()) {
        out.emplace_back(std::string(q.text(0)), q.integer(1));
    }
}

}  // namespace authd::detail
