// The SQLite backend of user_store: a pool of connections, each with its statements prepared once,
// plus one connection of its own that watches PRAGMA data_version for poll_external_changes().
#include "sqlite_backend.hpp"

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <utility>
#include <vector>

#include <sqlite3.h>

#include "authd/crypto/secret.hpp"
#include "authd/store/store_backend.hpp"
#include "authd/util/clock.hpp"

#include "../schema_migration.hpp"
#include "sqlite_db.hpp"
#include "sqlite_limit_store.hpp"

namespace authd::detail {

namespace {

// The users file's schema (schema_migration.hpp): step i takes it from version i to i + 1, in the
// transaction that opens the store. Append only.
constexpr std::array<std::string_view, 3> schema_steps{
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

// Brings the file to the current schema in one transaction: another process opening the same
// file at the same time waits (IMMEDIATE takes the write lock first), then finds it done.
void migrate(sqlite3* db, const std::string& path) {
    exec(db, path, "BEGIN IMMEDIATE", "cannot start the schema transaction");
    try {
        users_file file(db, path);
        migrate_schema(file, schema_steps);
        exec(db, path, "COMMIT", "cannot commit the schema");
    } catch (...) {
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

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
std::optional<file_id> file_at(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return std::nullopt;
    }
    return file_id{st.st_dev, st.st_ino};
}

std::string describe(const file_id& id) {
    return "device " + std::to_string(id.dev) + ", inode " + std::to_string(id.ino);
}

using revocation_rows = std::vector<std::pair<std::string, std::int64_t>>;

void append_revocations(const statement& list, std::int64_t now, revocation_rows& out) {
    query q(list);
    q.bind(1, now);
    while (q.next_row()) {
        out.emplace_back(std::string(q.text(0)), q.integer(1));
    }
}

// How soon a file at the path that could not be opened is tried again (a different file at once).
constexpr auto reopen_retry = std::chrono::seconds(1);

class sqlite_backend final : public store_backend,
                             public user_store,
                             public revocation_store,
                             public token_cutoff_store {
  public:
    user_store& users() override { return *this; }
    revocation_store& revocations() override { return *this; }
    token_cutoff_store& cutoffs() override { return *this; }

    explicit sqlite_backend(std::string path) : path_(std::move(path)) {
        auto file = open_file(true);
        open_id_ = file.id;
        wal_id_ = file.wal;
        shm_id_ = file.shm;
        watch_ = std::move(file.watch);
        free_.push_back(std::move(file.conn));
    }

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
        const bool added =
            query(conn->insert_user).bind(1, name).bind(2, phc).bind(3, unix_now()).run() == 1;
        conn.confirm_write();
        return added;
    }

    std::size_t add_users(const std::vector<user_record>& users) override {
        if (users.empty()) {
            return 0;
        }
        lease conn(*this);
        transaction tx(conn->tx);
        const std::int64_t now = unix_now();
        std::size_t added = 0;
        for (const auto& user : users) {
            query insert(conn->insert_user);
            added += static_cast<std::size_t>(
                insert.bind(1, user.name).bind(2, user.phc).bind(3, now).run());
        }
        tx.commit();
        conn.confirm_write();
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
        return change_voiding_tokens(name, [&](sqlite_connection& conn, std::int64_t now) {
            return query(conn.set_hash).bind(1, name).bind(2, phc).bind(3, now).run() == 1;
        });
    }

    bool replace_hash(std::string_view name, std::string_view expected_phc,
                      std::string_view new_phc) override {
        lease conn(*this);
        query update(conn->replace_hash);
        update.bind(1, name).bind(2, expected_phc).bind(3, new_phc).bind(4, unix_now());
        const bool replaced = update.run() == 1;
        conn.confirm_write();
        return replaced;
    }

    bool remove_user(std::string_view name) override {
        return change_voiding_tokens(name, [&](sqlite_connection& conn, std::int64_t) {
            return query(conn.remove_user).bind(1, name).run() == 1;
        });
    }

    std::vector<std::pair<std::string, std::int64_t>> token_cutoffs(std::int64_t since) override {
        return text_integer_rows(&sqlite_connection::list_cutoffs, since);
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
        conn.confirm_write();
    }

    revocation_rows revoked_tokens(std::int64_t now) override {
        lease conn(*this);
        revocation_rows out;
        append_revocations(conn->list_revoked, now, out);
        return out;
    }

    void purge_revoked_tokens(std::int64_t now) override {
        lease conn(*this);
        query(conn->purge_revoked).bind(1, now).run();
    }

    bool poll_external_changes() override {
        std::shared_lock lock(file_mutex_);
        try {
            check_file(lock);
        } catch (const store_error&) {
            if (changed_.exchange(false)) {
                return true;  // what was cached came from the file that is gone
            }
            throw;
        }
        if (changed_.exchange(false)) {
            return true;  // another file is served now
        }
        const std::lock_guard watch_lock(watch_mutex_);
        return watch_->changed();
    }

    void set_change_listener(change_listener* listener) override {
        const std::unique_lock lock(file_mutex_);
        listener_ = listener;
    }

    bool usable() const noexcept override { return usable_.load(std::memory_order_relaxed); }

    // The counters live in a file of their own beside the store (sqlite_limit_store.hpp), opened
    // when authd first asks (authctl never does).
    limit_store* limits() override {
        const std::lock_guard lock(limits_mutex_);
        if (!limits_) {
            limits_ = open_sqlite_limit_store(path_ + ".limits");
        }
        return limits_.get();
    }

    std::string access_warning() const override {
        struct stat st {};
        if (::stat(path_.c_str(), &st) != 0) {
            return {};
        }
        const auto problem = private_mode_problem(path_, st.st_mode);
        return problem.empty()
                   ? std::string()
                   : store_name(path_) + ": " + problem + "; it holds every password hash";
    }

  private:
    // Runs change(conn, now), a statement that is true when it changed name's row, and then voids
    // name's tokens issued up to now (unix seconds, floored: those of that very second too, hence
    // a cutoff of now + 1), in one transaction.
    template <typename Change>
    bool change_voiding_tokens(std::string_view name, Change&& change) {
        lease conn(*this);
        transaction tx(conn->tx);
        const std::int64_t now = unix_now();  // with the write lock held: commits keep its order
        if (!change(*conn, now)) {
            return false;
        }
        query(conn->cut_tokens).bind(1, name).bind(2, now + 1).run();
        tx.commit();
        conn.confirm_write();
        return true;
    }

    // The (text, integer) rows of a listing statement that takes one integer.
    std::vector<std::pair<std::string, std::int64_t>> text_integer_rows(
        statement sqlite_connection::*listing, std::int64_t parameter) {
        lease conn(*this);
        query q((*conn).*listing);
        q.bind(1, parameter);
        std::vector<std::pair<std::string, std::int64_t>> out;
        while (q.next_row()) {
            out.emplace_back(std::string(q.text(0)), q.integer(1));
        }
        return out;
    }

    // A pooled connection, held by one thread for the length of one call, on the file at the
    // path: the store's file lock is held (shared) meanwhile, so that the file is not swapped
    // under the call.
    class lease {
      public:
        explicit lease(sqlite_backend& store) : store_(store), lock_(store.file_mutex_) {
            store_.check_file(lock_);
            conn_ = store_.acquire();
        }
        ~lease() { store_.release(std::move(conn_)); }
        lease(const lease&) = delete;
        lease& operator=(const lease&) = delete;

        sqlite_connection* operator->() const noexcept { return conn_.get(); }
        sqlite_connection& operator*() const noexcept { return *conn_; }

        // After a write: it went to the file that is still at the path, else it may be lost
        // (the caller is told to retry; a revocation is carried to the next file served).
        void confirm_write() const {
            if (file_at(store_.path_) != store_.open_id_) {
                throw store_unavailable(store_name(store_.path_) +
                                        ": the store file was replaced or deleted during a write, "
                                        "which may be lost; retry");
            }
        }

      private:
        sqlite_backend& store_;
        std::shared_lock<std::shared_mutex> lock_;
        std::unique_ptr<sqlite_connection> conn_;
    };

    struct opened_file {
        std::unique_ptr<sqlite_connection> conn;
        std::unique_ptr<change_watch> watch;
        file_id id;
        std::optional<file_id> wal;  // its -wal and -shm files, for as long as it is open
        std::optional<file_id> shm;
    };

    // Opens the file at the path as at start: a first connection, through which the schema is
    // checked and migrated, then the watcher (which must open after the migration). Only the
    // first open creates a missing file.
    opened_file open_file(bool create) const {
        const auto before = file_at(path_);
        db_handle db = open_db(path_, create);
        migrate(db.get(), path_);
        opened_file file{std::make_unique<sqlite_connection>(path_, std::move(db)),
                         std::make_unique<change_watch>(path_), file_id{}, std::nullopt,
                         std::nullopt};
        const auto after = file_at(path_);
        if (!after || (before && before != after)) {
            throw store_unavailable(store_name(path_) + ": the file changed while it was opened");
        }
        file.id = *after;
        file.wal = file_at(path_ + "-wal");
        file.shm = file_at(path_ + "-shm");
        return file;
    }

    // Called with lock (shared) held, returns with it held: the connections are on the file at
    // the path, or the change is handled first. Throws the store's failure while no file is
    // served.
    void check_file(std::shared_lock<std::shared_mutex>& lock) {
        if (open_id_ && file_at(path_) == open_id_) {
            return;
        }
        lock.unlock();
        {
            const std::unique_lock exclusive(file_mutex_);
            handle_change();
        }
        lock.lock();
        if (!open_id_) {
            if (failure_unavailable_) {
                throw store_unavailable(failure_);
            }
            throw store_error(failure_);
        }
    }

    // The file at the path is not the one open (or none is open). file_mutex_ held exclusively:
    // no call is using a connection.
    void handle_change() {
        const auto now_at = file_at(path_);
        if (open_id_ && now_at == open_id_) {
            return;  // another thread handled it meanwhile
        }
        if (open_id_) {
            drop_file();
        }
        if (!now_at) {
            refuse(true, "store_file_missing", std::nullopt,
                   store_name(path_) +
                       ": the store file was deleted or moved away; logins and logouts are "
                       "refused until a valid store file is back at this path");
            return;
        }
        const auto now = std::chrono::steady_clock::now();
        if (attempted_ == now_at && now - attempted_at_ < reopen_retry) {
            return;  // this file failed a moment ago
        }
        attempted_ = now_at;
        attempted_at_ = now;
        try {
            reopen(*now_at);
        } catch (const store_unavailable& e) {
            refuse(true, "store_file_replaced", now_at, std::string("refused: ") + e.what());
        } catch (const store_error& e) {
            refuse(false, "store_file_replaced", now_at, std::string("refused: ") + e.what());
        } catch (const std::bad_alloc&) {
            refuse(false, "store_file_replaced", now_at, "refused: out of memory");
        }
    }

    // Closes every connection on the file served so far, keeping the revocations it holds, and
    // removes its -wal and -shm files. SQLite leaves them (it does not checkpoint a moved or
    // deleted file on close), and the next file at the path must not be opened beside them: it
    // would read the old file's pages from that -wal as its own.
    void drop_file() {
        try {
            append_revocations(statement(watch_->db(), path_,
                                         "SELECT jti, exp FROM revoked_tokens WHERE exp > ?1"),
                               unix_now(), carried_);
        } catch (const std::exception&) {
            // Unreadable now: what this node revoked stays revoked in memory until it restarts.
        }
        {
            const std::lock_guard lock(pool_mutex_);
            free_.clear();
        }
        watch_.reset();
        open_id_.reset();
        remove_side_files();
        changed_.store(true);
        if (listener_ != nullptr) {
            listener_->all_changed();
        }
    }

    // Removes the -wal and -shm files of the file no longer served, if they are still at the
    // path (not ones another process made since for the file there now). Forgotten once gone.
    void remove_side_files() {
        for (auto [suffix, id] : {std::pair{"-wal", &wal_id_}, std::pair{"-shm", &shm_id_}}) {
            const std::string side = path_ + suffix;
            if (id->has_value() && file_at(side) == *id && ::unlink(side.c_str()) != 0 &&
                errno != ENOENT) {
                continue;  // still there: reopen() refuses to open a file beside it
            }
            id->reset();
        }
    }

    void reopen(const file_id& expected) {
        remove_side_files();
        if (wal_id_ || shm_id_) {
            throw store_unavailable(store_name(path_) +
                                    ": the previous file's -wal or -shm file "
                                    "cannot be removed, and the new file is not opened beside "
                                    "it");
        }
        auto file = open_file(false);
        if (file.id != expected) {
            throw store_unavailable(store_name(path_) + ": the file changed while it was opened");
        }
        const std::size_t kept = carried_.size();
        if (!carried_.empty()) {
            transaction tx(file.conn->tx);
            for (const auto& [jti, exp] : carried_) {
                query(file.conn->revoke).bind(1, jti).bind(2, exp).run();
            }
            tx.commit();
            file.watch->changed();  // authd's own write: what the next poll reports is the swap
        }
        revocation_rows revoked;
        append_revocations(file.conn->list_revoked, unix_now(), revoked);
        {
            const std::lock_guard lock(pool_mutex_);
            free_.push_back(std::move(file.conn));
        }
        watch_ = std::move(file.watch);
        open_id_ = file.id;
        wal_id_ = file.wal;
        shm_id_ = file.shm;
        failure_.clear();
        carried_.clear();
        attempted_.reset();
        logged_.clear();
        changed_.store(true);
        usable_.store(true);
        if (listener_ != nullptr) {
            const auto warning = access_warning();
            listener_->all_changed();
            const auto now = unix_now();
            for (const auto& [jti, exp] : revoked) {
                if (exp > now) {
                    listener_->token_revoked(jti, exp);
                }
            }
            listener_->store_event("store_file_replaced",
                                   "reopened: " + store_name(path_) + " is now " +
                                       describe(file.id) + "; its users and " +
                                       std::to_string(revoked.size()) +
                                       " revocations are served (with " + std::to_string(kept) +
                                       " revocations kept from the previous file)" +
                                       (warning.empty() ? std::string() : "; warning: " + warning));
        }
    }

    // No file is served: calls fail with why (503 when unavailable, else 500). Each distinct
    // event is told to the listener once.
    void refuse(bool unavailable, std::string_view event, const std::optional<file_id>& id,
                std::string why) {
        failure_ = std::move(why);
        failure_unavailable_ = unavailable;
        usable_.store(false);
        std::string key = std::string(event) + (id ? describe(*id) : std::string()) + failure_;
        if (key != logged_ && listener_ != nullptr) {
            listener_->store_event(event, failure_);
        }
        logged_ = std::move(key);
    }

    // A free connection, or a new one when all are busy: the pool grows to the number of threads
    // that call the store at once (the hash workers) and stays there. file_mutex_ held (shared).
    std::unique_ptr<sqlite_connection> acquire() {
        {
            const std::lock_guard lock(pool_mutex_);
            if (!free_.empty()) {
                auto conn = std::move(free_.back());
                free_.pop_back();
                return conn;
            }
        }
        db_handle db = open_db(path_);
        if (file_at(path_) != open_id_) {
            // It may be on the file that replaced the open one, beside the old file's -wal: closed
            // without the checkpoint a last connection makes.
            sqlite3_db_config(db.get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
            throw store_unavailable(store_name(path_) + ": the store file changed; retry");
        }
        return std::make_unique<sqlite_connection>(path_, std::move(db));
    }

    void release(std::unique_ptr<sqlite_connection> conn) noexcept {
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
    // Shared by each call for its length; exclusive to swap the file served (or drop it).
    std::shared_mutex file_mutex_;
    // Guarded by file_mutex_:
    std::optional<file_id> open_id_;  // the file the connections are on; nullopt: none
    std::optional<file_id> wal_id_;   // its -wal and -shm (or the last one's, not yet removed)
    std::optional<file_id> shm_id_;
    std::string failure_;  // why calls fail while none is
    bool failure_unavailable_ = false;
    std::unique_ptr<change_watch> watch_;
    change_listener* listener_ = nullptr;
    revocation_rows carried_;           // from files no longer served, for the next one
    std::optional<file_id> attempted_;  // the last file that could not be opened, and when
    std::chrono::steady_clock::time_point attempted_at_;
    std::string logged_;  // the last event told to the listener
    // Also under pool_mutex_ (calls share file_mutex_):
    std::mutex pool_mutex_;
    std::vector<std::unique_ptr<sqlite_connection>> free_;
    std::mutex watch_mutex_;  // serialises watch_->changed()
    std::mutex limits_mutex_;
    std::unique_ptr<limit_store> limits_;  // guarded by limits_mutex_, made on demand
    std::atomic<bool> usable_{true};
    std::atomic<bool> changed_{false};  // the file served changed: the next poll says so
};

}  // namespace

std::unique_ptr<store_backend> open_sqlite_backend(const std::string& path) {
    if (path.empty() || path == ":memory:") {
        // Each pooled connection would see a database of its own.
        throw store_error("sqlite:" + path + ": a store needs a database file path");
    }
    return std::make_unique<sqlite_backend>(path);
}

}  // namespace authd::detail
