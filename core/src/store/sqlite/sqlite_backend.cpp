// The SQLite store_backend: users, revocations and token cutoffs over a pool of connections, each
// with its statements prepared once (sqlite_parts.hpp), plus one connection of its own that
// watches PRAGMA data_version for poll_external_changes(); and what it does when its file is
// deleted or replaced under it. The schema: sqlite_schema.cpp.
#include "sqlite_backend.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unistd.h>
#include <utility>
#include <vector>

#include <sqlite3.h>

#include "authd/store/store_backend.hpp"
#include "authd/util/clock.hpp"

#include "sqlite_db.hpp"
#include "sqlite_limit_store.hpp"
#include "sqlite_parts.hpp"

namespace authd::detail {

namespace {

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
        pool_.give_back(std::move(file.conn));
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

    std::string access_warning() const override { return store_file_warning(path_); }

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
        migrate_users_file(db.get(), path_);
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
        pool_.clear();
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
        pool_.give_back(std::move(file.conn));
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
        if (auto idle = pool_.take()) {
            return idle;
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
        pool_.give_back(std::move(conn));
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
    std::string logged_;      // the last event told to the listener
    idle_connections pool_;   // thread-safe (calls share file_mutex_)
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
