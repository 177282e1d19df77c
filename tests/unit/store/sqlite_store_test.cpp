// The SQLite user store beyond the contract it shares with the PostgreSQL store
// (store_contract_test.cpp): schema and migration, opening failures, change polling; and the user
// name rules (valid_user_name).
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <stdlib.h>
#include <string>
#include <sys/stat.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "authd/store/limit_store.hpp"
#include "authd/store/store_backend.hpp"

#include "support/limit_migration.hpp"
#include "support/open_error.hpp"
#include "support/temp_dir.hpp"

namespace {

using authd::open_store;
using authd::store_backend;
using authd::store_error;
using authd::store_unavailable;
using authd::user_store;
using authd_test_support::open_error;

using authd_test_support::temp_dir;

// Direct access to the file, bypassing the store, to inspect or tamper with it.
class raw_db {
  public:
    explicit raw_db(const std::string& path) {
        if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
            throw std::runtime_error("cannot open " + path);
        }
    }
    ~raw_db() { sqlite3_close(db_); }
    raw_db(const raw_db&) = delete;
    raw_db& operator=(const raw_db&) = delete;

    void exec(const std::string& sql) {
        if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
            throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
        }
    }

    // Every row's first column as text.
    std::vector<std::string> column(const std::string& sql) {
        sqlite3_stmt* stmt = nullptr;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
            throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
        }
        std::vector<std::string> rows;
        while (sqlite3_step(stmt) == SQLITE_ROW) {
            rows.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
        }
        sqlite3_finalize(stmt);
        return rows;
    }

  private:
    sqlite3* db_ = nullptr;
};

void write_file(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary);
    out << content;
}

class SqliteStore : public ::testing::Test {
  protected:
    std::string db_path() const { return dir_.path() + "/users.db"; }
    std::string uri() const { return "sqlite:" + db_path(); }
    std::unique_ptr<store_backend> open() const { return open_store(uri()); }

    temp_dir dir_;
};

TEST_F(SqliteStore, SchemaIsTheCurrentVersionInWalMode) {
    open();
    raw_db db(db_path());
    EXPECT_EQ(db.column("SELECT version FROM schema_version"), std::vector<std::string>{"3"});
    EXPECT_EQ(db.column("PRAGMA journal_mode"), std::vector<std::string>{"wal"});
    const auto users_sql = db.column("SELECT sql FROM sqlite_master WHERE name = 'users'");
    ASSERT_EQ(users_sql.size(), 1U);
    EXPECT_NE(users_sql[0].find("WITHOUT ROWID"), std::string::npos);
}

TEST_F(SqliteStore, TimestampsAreSet) {
    auto store = open();
    ASSERT_TRUE(store->users().add_user("alice", "h"));
    raw_db db(db_path());
    const auto stamps =
        db.column("SELECT created_at > 1600000000 AND updated_at >= created_at FROM users");
    EXPECT_EQ(stamps, std::vector<std::string>{"1"});
}

// What a reopened store keeps of its records: StoreContract.ReopenKeepsData.
TEST_F(SqliteStore, ReopenKeepsSchemaVersion) {
    ASSERT_TRUE(open()->users().add_user("alice", "a"));
    open();
    raw_db db(db_path());
    EXPECT_EQ(db.column("SELECT version FROM schema_version"), std::vector<std::string>{"3"});
}

TEST_F(SqliteStore, VersionOneIsMigratedKeepingItsUsers) {
    {
        auto store = open();
        ASSERT_TRUE(store->users().add_user("alice", "a"));
    }
    raw_db(db_path()).exec(
        "DROP TABLE revoked_tokens; DROP TABLE token_cutoffs; "
        "UPDATE schema_version SET version = 1");  // as v1 left it
    auto store = open();
    EXPECT_EQ(store->users().find_hash("alice"), "a");
    store->revocations().revoke_token("t1", 2'000'000'000);
    ASSERT_TRUE(store->users().set_hash("alice", "b"));
    EXPECT_GT(store->users().find_login("alice").value().tokens_not_before, 0);
    raw_db db(db_path());
    EXPECT_EQ(db.column("SELECT version FROM schema_version"), std::vector<std::string>{"3"});
}

// The counters' file of version 1 kept names; version 2 keys them by the name's digest (issue 29)
// and keeps every count and known address under it: an upgrade gives no attacker a fresh budget
// and no owner loses a known address.
TEST_F(SqliteStore, VersionOneCountersAreKeptUnderTheirNamesDigests) {
    {
        raw_db v1(db_path() + ".limits");
        v1.exec(R"sql(
CREATE TABLE limit_counters(kind INTEGER NOT NULL, name TEXT NOT NULL, address INTEGER NOT NULL,
    failures REAL NOT NULL, updated REAL NOT NULL, blocked_until REAL NOT NULL,
    blocked_by INTEGER NOT NULL, PRIMARY KEY (kind, name, address)) WITHOUT ROWID;
CREATE TABLE known_addresses(name TEXT NOT NULL, address INTEGER NOT NULL,
    last_success REAL NOT NULL, PRIMARY KEY (name, address)) WITHOUT ROWID;
PRAGMA user_version = 1;
INSERT INTO limit_counters VALUES (0, 'älice', 0, 14, unixepoch(), unixepoch() + 300, 9),
                                  (2, '', 77, 3, unixepoch(), 0, 0);
INSERT INTO known_addresses VALUES ('älice', 7, unixepoch());
)sql");
    }
    auto store = open();
    auto* limits = store->limits();
    ASSERT_NE(limits, nullptr);
    authd_test_support::expect_old_counts_kept_under_digests(*limits);
    raw_db db(db_path() + ".limits");
    EXPECT_EQ(db.column("PRAGMA user_version"), std::vector<std::string>{"2"});
}

TEST_F(SqliteStore, NewerSchemaRefused) {
    open();
    raw_db(db_path()).exec("UPDATE schema_version SET version = 4");
    const std::string message = open_error(uri());
    EXPECT_NE(message.find("schema version 4 is newer"), std::string::npos) << message;
    EXPECT_NE(message.find(db_path()), std::string::npos) << message;
}

// A file at the current version with one of its tables gone (dropped by hand) is refused at
// open, naming the statement that cannot be prepared: not opened to fail call after call.
TEST_F(SqliteStore, AStoreMissingOneOfItsTablesIsRefusedAtOpen) {
    open();
    raw_db(db_path()).exec("DROP TABLE revoked_tokens");
    const std::string message = open_error(uri());
    EXPECT_NE(message.find("cannot prepare"), std::string::npos) << message;
    EXPECT_NE(message.find("revoked_tokens"), std::string::npos) << message;
}

TEST_F(SqliteStore, GarbageFileRefused) {
    write_file(db_path(), std::string(8192, 'x'));
    const std::string message = open_error(uri());
    EXPECT_NE(message.find("file is not a database"), std::string::npos) << message;
    EXPECT_NE(message.find("cannot read the file"), std::string::npos)
        << "the first statement that fails says so: " << message;
    EXPECT_NE(message.find(db_path()), std::string::npos) << message;
}

TEST_F(SqliteStore, ForeignDatabaseRefused) {
    raw_db(db_path()).exec("CREATE TABLE other(x INTEGER)");
    const std::string message = open_error(uri());
    EXPECT_NE(message.find("not an authd user store"), std::string::npos) << message;
}

TEST_F(SqliteStore, MissingDirectoryRefused) {
    const std::string path = dir_.path() + "/missing/users.db";
    const std::string message = open_error("sqlite:" + path);
    EXPECT_NE(message.find("does not exist"), std::string::npos) << message;
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/missing"));
}

TEST_F(SqliteStore, AParentThatIsAFileIsRefusedAsSuch) {
    write_file(dir_.path() + "/plain", "not a directory");
    const std::string path = dir_.path() + "/plain/users.db";
    const std::string message = open_error("sqlite:" + path);
    EXPECT_NE(message.find("plain is not a directory"), std::string::npos) << message;
    EXPECT_NE(message.find(path), std::string::npos) << message;
}

// The counters' file holds a table of the same name that is not authd's: its schema step fails,
// and the store says so (rather than going on, and failing at the first count with a message that
// hides why).
TEST_F(SqliteStore, ACountersFileWithAForeignTableIsRefusedWithTheReason) {
    raw_db(db_path() + ".limits").exec("CREATE TABLE limit_counters(x INTEGER)");
    std::string message;
    try {
        auto store = open();
        store->limits()->admit(authd::account_digest::of("alice"), 1, authd::limiter_config{}, 1);
        ADD_FAILURE() << "counted in a foreign table";
    } catch (const store_error& e) {
        message = e.what();
    }
    EXPECT_NE(message.find("already exists"), std::string::npos) << message;
    EXPECT_NE(message.find(db_path() + ".limits"), std::string::npos) << message;
}

TEST_F(SqliteStore, DirectoryAsFileRefused) {
    std::filesystem::create_directory(db_path());
    EXPECT_THROW(open(), store_error);
}

TEST_F(SqliteStore, ReadOnlyFileRefused) {
    if (geteuid() == 0) {
        GTEST_SKIP() << "root may write to any file";
    }
    open();
    ASSERT_EQ(chmod(db_path().c_str(), 0400), 0);
    const std::string message = open_error(uri());
    EXPECT_NE(message.find("read-only"), std::string::npos) << message;
}

TEST_F(SqliteStore, NoPathRefused) {
    EXPECT_THROW(open_store("sqlite:"), store_error);
    EXPECT_THROW(open_store("sqlite::memory:"), store_error);
}

TEST_F(SqliteStore, UnknownSchemeRefused) {
    for (const char* uri : {"", "users.db", "SQLITE:users.db", "sqlite3:users.db",
                            "mysql://admin:hunter2@db/authd"}) {
        SCOPED_TRACE(uri);
        try {
            open_store(uri);
            ADD_FAILURE() << "no exception";
        } catch (const std::invalid_argument& e) {
            // Another scheme's URI may carry a password: only the scheme is repeated.
            EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
        }
    }
}

TEST_F(SqliteStore, PollSeesAnotherConnectionsWrite) {
    auto store = open();
    auto other = open();
    EXPECT_FALSE(store->users().poll_external_changes());
    EXPECT_FALSE(store->users().poll_external_changes());
    ASSERT_TRUE(other->users().add_user("alice", "a"));
    EXPECT_TRUE(store->users().poll_external_changes());
    EXPECT_FALSE(store->users().poll_external_changes());
    ASSERT_EQ(store->users().find_hash("alice"), "a");  // reads do not count as changes
    EXPECT_FALSE(store->users().poll_external_changes());
    ASSERT_TRUE(other->users().remove_user("alice"));
    EXPECT_TRUE(store->users().poll_external_changes());
}

TEST_F(SqliteStore, PollReportsChangeSinceOpen) {
    auto store = open();
    open()->users().add_user("alice", "a");
    EXPECT_TRUE(store->users().poll_external_changes());
}

TEST_F(SqliteStore, PollIgnoresWritesThatChangeNothing) {
    auto store = open();
    auto other = open();
    ASSERT_FALSE(store->users().poll_external_changes());
    EXPECT_FALSE(other->users().set_hash("nobody", "h"));
    EXPECT_FALSE(store->users().poll_external_changes());
}

// What a store pushes to its listener, recorded.
struct recording_listener final : authd::change_listener {
    void user_changed(std::string_view) override {}
    void all_changed() override { ++drops; }
    void token_revoked(std::string_view jti, std::int64_t) override { revoked.emplace_back(jti); }
    void store_event(std::string_view event, std::string_view detail) override {
        events.emplace_back(event, detail);
    }

    int drops = 0;
    std::vector<std::string> revoked;
    std::vector<std::pair<std::string, std::string>> events;
};

constexpr std::int64_t far_future = 4'000'000'000;

// A store file at path holding user with hash phc, closed again.
void make_store_file(const std::string& path, const std::string& user, const std::string& phc) {
    ASSERT_TRUE(open_store("sqlite:" + path)->users().add_user(user, phc));
}

TEST_F(SqliteStore, DeletedFileIsRefusedUntilAnotherStoreIsMovedThere) {
    auto store = open();
    recording_listener listener;
    store->set_change_listener(&listener);
    ASSERT_TRUE(store->users().add_user("alice", "a"));
    store->revocations().revoke_token("before", far_future);
    ASSERT_EQ(::unlink(db_path().c_str()), 0);

    for (int i = 0; i < 3; ++i) {
        EXPECT_THROW(store->users().find_hash("alice"), store_unavailable);
    }
    EXPECT_FALSE(store->users().usable());
    EXPECT_THROW(store->revocations().revoke_token("during", far_future), store_unavailable);
    EXPECT_TRUE(store->users().poll_external_changes());  // once: what was cached is stale
    EXPECT_THROW(store->users().poll_external_changes(), store_unavailable);
    ASSERT_EQ(listener.events.size(), 1U);
    EXPECT_EQ(listener.events[0].first, "store_file_missing");
    EXPECT_EQ(listener.drops, 1);
    // The old file's -wal and -shm went with it: a new file is never read beside them.
    EXPECT_NE(::access((db_path() + "-wal").c_str(), F_OK), 0);
    EXPECT_NE(::access((db_path() + "-shm").c_str(), F_OK), 0);

    const std::string other = dir_.path() + "/other.db";
    make_store_file(other, "bob", "b");
    ASSERT_EQ(std::rename(other.c_str(), db_path().c_str()), 0);
    EXPECT_EQ(store->users().find_hash("bob"), "b");
    EXPECT_EQ(store->users().find_hash("alice"), std::nullopt);
    EXPECT_TRUE(store->users().usable());
    EXPECT_TRUE(store->users().poll_external_changes());
    EXPECT_FALSE(store->users().poll_external_changes());
    ASSERT_EQ(listener.events.size(), 2U);
    EXPECT_EQ(listener.events[1].first, "store_file_replaced");
    EXPECT_EQ(listener.events[1].second.rfind("reopened: ", 0), 0U) << listener.events[1].second;
    // The revocation made in the deleted file is carried into the new one and pushed.
    EXPECT_EQ(listener.revoked, std::vector<std::string>{"before"});
    EXPECT_EQ(raw_db(db_path()).column("SELECT jti FROM revoked_tokens"),
              std::vector<std::string>{"before"});
    store->set_change_listener(nullptr);
}

// A write that waits for a lock while its file is replaced lands in the old file, which is no
// longer the store: it must not be acknowledged (authctl and /logout would say "done" for a write
// nobody will read). Each write either fails as unavailable ("retry") or is in the file at the
// path. The writer waits on a lock held by another connection of the old file while the new file
// is moved in; the lock is released after. (A revocation is also carried from the old file into
// the next one, so that a logout acknowledged just before a file is replaced holds too.)
TEST_F(SqliteStore, AWriteThatLandsInAReplacedFileIsNeverAcknowledged) {
    using namespace std::chrono_literals;
    struct write_case {
        const char* name;
        std::function<void(store_backend&)> write;
        std::function<bool(store_backend&)> in_file;  // read back through the store
    };
    const write_case cases[] = {
        {"add_user", [](store_backend& s) { s.users().add_user("bob", "b"); },
         [](store_backend& s) { return s.users().find_hash("bob") == "b"; }},
        {"add_users",
         [](store_backend& s) {
             s.users().add_users({{"bob", "b"}, {"carol", "c"}});
         },
         [](store_backend& s) { return s.users().find_hash("carol") == "c"; }},
        {"set_hash", [](store_backend& s) { s.users().set_hash("alice", "a2"); },
         [](store_backend& s) { return s.users().find_hash("alice") == "a2"; }},
        {"replace_hash", [](store_backend& s) { s.users().replace_hash("alice", "a", "a3"); },
         [](store_backend& s) { return s.users().find_hash("alice") == "a3"; }},
        {"remove_user", [](store_backend& s) { s.users().remove_user("alice"); },
         [](store_backend& s) { return s.users().find_hash("alice") == std::nullopt; }},
        {"revoke_token", [](store_backend& s) { s.revocations().revoke_token("t", far_future); },
         [](store_backend& s) { return s.revocations().revoked_tokens(0).size() == 1; }},
    };
    int refused = 0;
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        const temp_dir dir;
        const std::string path = dir.path() + "/users.db";
        make_store_file(path, "alice", "a");
        auto store = open_store("sqlite:" + path);
        ASSERT_EQ(store->users().find_hash("alice"), "a");
        std::string outcome;
        {
            raw_db holder(path);
            holder.exec("BEGIN IMMEDIATE");
            std::thread writer([&] {
                try {
                    c.write(*store);
                    outcome = "acknowledged";
                } catch (const store_unavailable&) {
                    outcome = "unavailable";
                } catch (const std::exception& e) {
                    outcome = std::string("failed: ") + e.what();
                }
            });
            std::this_thread::sleep_for(200ms);  // the writer waits for holder's lock by now
            make_store_file(dir.path() + "/next.db", "alice", "a");
            ASSERT_EQ(std::rename((dir.path() + "/next.db").c_str(), path.c_str()), 0);
            holder.exec("ROLLBACK");
            writer.join();
        }
        // Read through the store, which serves the new file now, alone (never beside the old
        // file's -wal, which still holds the old file's last writes).
        if (outcome == "acknowledged") {
            EXPECT_TRUE(c.in_file(*store)) << "acknowledged, and not in the store file";
        } else {
            EXPECT_EQ(outcome, "unavailable");
            ++refused;
        }
        store.reset();
    }
    EXPECT_GT(refused, 0) << "no write ever waited for the lock: the test proved nothing";
}

TEST_F(SqliteStore, FileThatIsNotAStoreIsRefusedAsAFailure) {
    auto store = open();
    write_file(dir_.path() + "/junk", std::string(4096, 'x'));
    ASSERT_EQ(std::rename((dir_.path() + "/junk").c_str(), db_path().c_str()), 0);
    try {
        store->users().find_hash("alice");
        ADD_FAILURE() << "no store_error";
    } catch (const store_unavailable& e) {
        ADD_FAILURE() << "unavailable (503) rather than failed (500): " << e.what();
    } catch (const store_error& e) {
        EXPECT_NE(std::string(e.what()).find("not a database"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(store->users().usable());
}

// Calls from several threads go on while the file is replaced again and again: each answers from
// one of the files or fails as documented, nothing crashes or hangs, and no file is damaged (a
// file opened beside another's -wal would be).
TEST_F(SqliteStore, CallsWhileTheFileIsReplacedAgainAndAgain) {
    make_store_file(db_path(), "common", "c0");
    auto store = open();
    std::atomic<bool> stop{false};
    std::atomic<int> answers{0};
    std::atomic<int> bad{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; !stop.load(); ++i) {
                try {
                    store->users().poll_external_changes();
                    const auto phc = store->users().find_hash("common");
                    if (!phc || phc->empty() || (*phc)[0] != 'c') {
                        bad.fetch_add(1);
                    }
                    store->revocations().revoke_token(std::string("t")
                                                          .append(std::to_string(t))
                                                          .append("-")
                                                          .append(std::to_string(i)),
                                                      far_future);
                    answers.fetch_add(1);
                } catch (const store_error&) {
                    // refused while the file changes: documented
                }
            }
        });
    }
    for (int round = 1; round <= 20; ++round) {
        const std::string next = dir_.path() + "/next.db";
        make_store_file(next, "common", std::string("c").append(std::to_string(round)));
        ASSERT_EQ(std::rename(next.c_str(), db_path().c_str()), 0);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    stop.store(true);
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(bad.load(), 0);
    EXPECT_GT(answers.load(), 0);
    EXPECT_EQ(store->users().find_hash("common"), "c20");
    store.reset();
    EXPECT_EQ(raw_db(db_path()).column("PRAGMA integrity_check"), std::vector<std::string>{"ok"});
}

TEST(SqliteStoreUserName, Rules) {
    struct test_case {
        const char* what;
        std::string name;
        bool valid;
    };
    const test_case cases[] = {
        {"plain", "alice", true},
        {"digits and punctuation", "bob.smith-2@example.org", true},
        {"inner space", "Bob Smith", true},
        {"unicode", "Zoë Ølstad 用户", true},
        {"longest", std::string(authd::max_user_name_bytes, 'a'), true},
        {"longest in multibyte characters",
         [] {
             std::string s;
             while (s.size() + 2 <= authd::max_user_name_bytes) {
                 s += "é";
             }
             return s;
         }(),
         true},
        {"empty", "", false},
        {"too long", std::string(authd::max_user_name_bytes + 1, 'a'), false},
        {"bad UTF-8 byte", "al\xffice", false},
        {"truncated UTF-8", "caf\xc3", false},
        {"overlong UTF-8", "\xc0\xaf", false},
        {"surrogate", "\xed\xa0\x80", false},
        {"tab", "a\tb", false},
        {"newline", "alice\n", false},
        {"carriage return", "alice\r", false},
        {"NUL", std::string("a\0b", 3), false},
        {"escape", "a\x1b[31m", false},
        {"DEL", "a\x7f", false},
        {"C1 control NEL", "ad\xc2\x85min", false},
        {"C1 control CSI",
         "a\xc2\x9b"
         "31m",
         false},
        {"first C1 control", "a\xc2\x80", false},
        {"no-break space", "ad\xc2\xa0min", false},
        {"soft hyphen", "ad\xc2\xadmin", false},
        {"zero-width space", "ad\xe2\x80\x8bmin", false},
        {"right-to-left override",
         "\xe2\x80\xae"
         "admin",
         false},
        {"byte order mark",
         "\xef\xbb\xbf"
         "admin",
         false},
        {"ideographic space", "ad\xe3\x80\x80min", false},
        {"the character after the C1 controls' no-break space", "\xc2\xa1hola", true},
        {"a four-byte character", "\xf0\x9f\x98\x80 face", true},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        EXPECT_EQ(authd::valid_user_name(c.name), c.valid);
    }
}

// How authctl prints a name an older store may hold: valid names as they are, anything that
// would drive a terminal or hide shown as an escape.
TEST(UserName, PrintableNameShowsWhatWouldHide) {
    EXPECT_EQ(authd::printable_user_name("Zo\xc3\xab \xe7\x94\xa8"), "Zo\xc3\xab \xe7\x94\xa8");
    EXPECT_EQ(authd::printable_user_name("ad\xc2\x85min"), "ad\\u{0085}min");
    EXPECT_EQ(authd::printable_user_name("\xe2\x80\xae"
                                         "abc"),
              "\\u{202E}abc");
    EXPECT_EQ(authd::printable_user_name("a\x1b[31m"), "a\\u{001B}[31m");
    EXPECT_EQ(authd::printable_user_name("al\xffice"), "al\\x{FF}ice");
    EXPECT_EQ(authd::printable_user_name("\xf0\x9f\x98\x80\xc2\xa0"), "\xf0\x9f\x98\x80\\u{00A0}");
}

}  // namespace
