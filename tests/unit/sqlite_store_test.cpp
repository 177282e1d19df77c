// The SQLite user store: records, schema, opening failures, change polling, concurrency; and the
// user name rules (valid_user_name).
#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <stdlib.h>
#include <string>
#include <sys/stat.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "authd/user_store.hpp"

namespace {

using authd::open_store;
using authd::store_error;
using authd::user_record;
using authd::user_store;

// A fresh directory under /tmp, removed with everything in it.
class temp_dir {
  public:
    temp_dir() {
        std::string name = "/tmp/authd-store-test-XXXXXX";
        if (mkdtemp(name.data()) == nullptr) {
            throw std::system_error(errno, std::generic_category(), "mkdtemp");
        }
        path_ = name;
    }
    ~temp_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const std::string& path() const noexcept { return path_; }

  private:
    std::string path_;
};

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

std::string open_error(const std::string& uri) {
    try {
        open_store(uri);
    } catch (const store_error& e) {
        return e.what();
    }
    return "(no store_error)";
}

class SqliteStore : public ::testing::Test {
  protected:
    std::string db_path() const { return dir_.path() + "/users.db"; }
    std::string uri() const { return "sqlite:" + db_path(); }
    std::unique_ptr<user_store> open() const { return open_store(uri()); }

    std::vector<std::string> names(user_store& store) const {
        std::vector<std::string> out;
        store.for_each_name([&](std::string_view name) { out.emplace_back(name); });
        return out;
    }

    temp_dir dir_;
};

TEST_F(SqliteStore, AddThenFind) {
    auto store = open();
    EXPECT_TRUE(store->add_user("alice", "$argon2id$alice"));
    EXPECT_EQ(store->find_hash("alice"), "$argon2id$alice");
    EXPECT_EQ(store->find_hash("bob"), std::nullopt);
    EXPECT_EQ(store->find_hash(""), std::nullopt);
}

TEST_F(SqliteStore, AddExistingChangesNothing) {
    auto store = open();
    ASSERT_TRUE(store->add_user("alice", "first"));
    EXPECT_FALSE(store->add_user("alice", "second"));
    EXPECT_EQ(store->find_hash("alice"), "first");
}

TEST_F(SqliteStore, NamesAreExactBytes) {
    auto store = open();
    ASSERT_TRUE(store->add_user("alice", "lower"));
    EXPECT_TRUE(store->add_user("Alice", "upper"));
    EXPECT_TRUE(store->add_user("alice ", "space"));
    EXPECT_EQ(store->find_hash("alice"), "lower");
    EXPECT_EQ(store->find_hash("Alice"), "upper");
    EXPECT_EQ(store->find_hash("alice "), "space");
}

TEST_F(SqliteStore, SetHash) {
    auto store = open();
    ASSERT_TRUE(store->add_user("alice", "old"));
    EXPECT_TRUE(store->set_hash("alice", "new"));
    EXPECT_EQ(store->find_hash("alice"), "new");
    EXPECT_FALSE(store->set_hash("nobody", "new"));
    EXPECT_EQ(store->find_hash("nobody"), std::nullopt);
}

TEST_F(SqliteStore, ReplaceHash) {
    struct test_case {
        const char* what;
        const char* name;
        const char* expected;
        bool replaced;
        const char* stored_after;  // alice's hash afterwards
    };
    const test_case cases[] = {
        {"current expected value", "alice", "current", true, "rehashed"},
        {"stale expected value", "alice", "stale", false, "current"},
        {"empty expected value", "alice", "", false, "current"},
        {"no such user", "nobody", "current", false, "current"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        temp_dir dir;
        auto store = open_store("sqlite:" + dir.path() + "/users.db");
        ASSERT_TRUE(store->add_user("alice", "current"));
        EXPECT_EQ(store->replace_hash(c.name, c.expected, "rehashed"), c.replaced);
        EXPECT_EQ(store->find_hash("alice"), c.stored_after);
        EXPECT_EQ(store->find_hash("nobody"), std::nullopt);
    }
}

TEST_F(SqliteStore, RemoveUser) {
    auto store = open();
    ASSERT_TRUE(store->add_user("alice", "a"));
    ASSERT_TRUE(store->add_user("bob", "b"));
    EXPECT_TRUE(store->remove_user("alice"));
    EXPECT_EQ(store->find_hash("alice"), std::nullopt);
    EXPECT_FALSE(store->remove_user("alice"));
    EXPECT_EQ(store->find_hash("bob"), "b");
    EXPECT_TRUE(store->add_user("alice", "again"));
    EXPECT_EQ(store->find_hash("alice"), "again");
}

TEST_F(SqliteStore, ForEachNameInByteOrder) {
    auto store = open();
    for (const char* name : {"carol", "élodie", "bob", "Bob", "alice", "al"}) {
        ASSERT_TRUE(store->add_user(name, "h"));
    }
    // Byte order of UTF-8, which is code point order: upper case first, accents last.
    const std::vector<std::string> expected{"Bob", "al", "alice", "bob", "carol", "élodie"};
    EXPECT_EQ(names(*store), expected);
}

TEST_F(SqliteStore, ForEachNameOfEmptyStore) {
    auto store = open();
    EXPECT_TRUE(names(*store).empty());
}

TEST_F(SqliteStore, AddUsersSkipsExistingAndRepeated) {
    auto store = open();
    ASSERT_TRUE(store->add_user("alice", "kept"));
    const std::vector<user_record> batch{
        {"alice", "ignored"}, {"bob", "bob-1"}, {"carol", "carol"}, {"bob", "bob-2"}};
    EXPECT_EQ(store->add_users(batch), 2U);
    EXPECT_EQ(store->find_hash("alice"), "kept");
    EXPECT_EQ(store->find_hash("bob"), "bob-1");
    EXPECT_EQ(store->find_hash("carol"), "carol");
    EXPECT_EQ(store->add_users(batch), 0U);
    EXPECT_EQ(store->add_users({}), 0U);
}

TEST_F(SqliteStore, AddUsersLargeBatch) {
    auto store = open();
    std::vector<user_record> batch;
    batch.reserve(5000);
    for (int i = 0; i < 5000; ++i) {
        batch.push_back({"user" + std::to_string(i), "hash" + std::to_string(i)});
    }
    EXPECT_EQ(store->add_users(batch), batch.size());
    EXPECT_EQ(names(*store).size(), batch.size());
    EXPECT_EQ(store->find_hash("user4999"), "hash4999");
}

TEST_F(SqliteStore, SchemaIsTheCurrentVersionInWalMode) {
    open();
    raw_db db(db_path());
    EXPECT_EQ(db.column("SELECT version FROM schema_version"), std::vector<std::string>{"2"});
    EXPECT_EQ(db.column("PRAGMA journal_mode"), std::vector<std::string>{"wal"});
    const auto users_sql = db.column("SELECT sql FROM sqlite_master WHERE name = 'users'");
    ASSERT_EQ(users_sql.size(), 1U);
    EXPECT_NE(users_sql[0].find("WITHOUT ROWID"), std::string::npos);
}

TEST_F(SqliteStore, TimestampsAreSet) {
    auto store = open();
    ASSERT_TRUE(store->add_user("alice", "h"));
    raw_db db(db_path());
    const auto stamps =
        db.column("SELECT created_at > 1600000000 AND updated_at >= created_at FROM users");
    EXPECT_EQ(stamps, std::vector<std::string>{"1"});
}

TEST_F(SqliteStore, ReopenKeepsDataAndVersion) {
    {
        auto store = open();
        ASSERT_TRUE(store->add_user("alice", "a"));
    }
    auto store = open();
    EXPECT_EQ(store->find_hash("alice"), "a");
    raw_db db(db_path());
    EXPECT_EQ(db.column("SELECT version FROM schema_version"), std::vector<std::string>{"2"});
}

TEST_F(SqliteStore, VersionOneIsMigratedKeepingItsUsers) {
    {
        auto store = open();
        ASSERT_TRUE(store->add_user("alice", "a"));
    }
    raw_db(db_path()).exec(
        "DROP TABLE revoked_tokens; UPDATE schema_version SET version = 1");  // as v1 left it
    auto store = open();
    EXPECT_EQ(store->find_hash("alice"), "a");
    store->revoke_token("t1", 2'000'000'000);
    raw_db db(db_path());
    EXPECT_EQ(db.column("SELECT version FROM schema_version"), std::vector<std::string>{"2"});
}

TEST_F(SqliteStore, RevokedTokensLastUntilTheyExpire) {
    auto store = open();
    store->revoke_token("early", 100);
    store->revoke_token("late", 300);
    store->revoke_token("late", 300);  // twice is not an error
    using list = std::vector<std::pair<std::string, std::int64_t>>;
    EXPECT_EQ(store->revoked_tokens(50), (list{{"early", 100}, {"late", 300}}));
    EXPECT_EQ(store->revoked_tokens(100), (list{{"late", 300}}));
    store->purge_revoked_tokens(200);
    EXPECT_EQ(store->revoked_tokens(0), (list{{"late", 300}}));
    auto again = open();  // another connection, as after a restart
    EXPECT_EQ(again->revoked_tokens(0), (list{{"late", 300}}));
}

TEST_F(SqliteStore, NewerSchemaRefused) {
    open();
    raw_db(db_path()).exec("UPDATE schema_version SET version = 3");
    const std::string message = open_error(uri());
    EXPECT_NE(message.find("schema version 3 is newer"), std::string::npos) << message;
    EXPECT_NE(message.find(db_path()), std::string::npos) << message;
}

TEST_F(SqliteStore, GarbageFileRefused) {
    write_file(db_path(), std::string(8192, 'x'));
    const std::string message = open_error(uri());
    EXPECT_NE(message.find("file is not a database"), std::string::npos) << message;
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
    EXPECT_FALSE(store->poll_external_changes());
    EXPECT_FALSE(store->poll_external_changes());
    ASSERT_TRUE(other->add_user("alice", "a"));
    EXPECT_TRUE(store->poll_external_changes());
    EXPECT_FALSE(store->poll_external_changes());
    ASSERT_EQ(store->find_hash("alice"), "a");  // reads do not count as changes
    EXPECT_FALSE(store->poll_external_changes());
    ASSERT_TRUE(other->remove_user("alice"));
    EXPECT_TRUE(store->poll_external_changes());
}

TEST_F(SqliteStore, PollReportsChangeSinceOpen) {
    auto store = open();
    open()->add_user("alice", "a");
    EXPECT_TRUE(store->poll_external_changes());
}

TEST_F(SqliteStore, PollIgnoresWritesThatChangeNothing) {
    auto store = open();
    auto other = open();
    ASSERT_FALSE(store->poll_external_changes());
    EXPECT_FALSE(other->set_hash("nobody", "h"));
    EXPECT_FALSE(store->poll_external_changes());
}

TEST_F(SqliteStore, ConcurrentReadsWhileWriting) {
    auto store = open();
    std::vector<user_record> users;
    users.reserve(100);
    for (int i = 0; i < 100; ++i) {
        users.push_back({"user" + std::to_string(i), "hash" + std::to_string(i)});
    }
    ASSERT_EQ(store->add_users(users), users.size());

    std::atomic<bool> writing{true};
    std::atomic<int> mismatches{0};
    std::mutex error_mutex;
    std::exception_ptr error;
    auto guarded = [&](auto body) {
        return [&, body] {
            try {
                body();
            } catch (...) {
                const std::lock_guard lock(error_mutex);
                error = std::current_exception();
            }
        };
    };
    std::vector<std::thread> readers;
    readers.reserve(8);
    for (int t = 0; t < 8; ++t) {
        readers.emplace_back(guarded([&, t] {
            for (int i = t; writing.load() || i < t + 200; ++i) {
                const auto& user = users[static_cast<std::size_t>(i) % users.size()];
                if (store->find_hash(user.name) != user.phc) {
                    ++mismatches;
                }
            }
        }));
    }
    std::thread writer(guarded([&] {
        for (int i = 0; i < 60; ++i) {
            const std::string name = "writer" + std::to_string(i % 10);
            store->add_user(name, "h");
            store->set_hash(name, "h2");
            store->remove_user(name);
        }
        writing = false;
    }));
    writer.join();
    for (auto& reader : readers) {
        reader.join();
    }
    if (error) {
        std::rethrow_exception(error);
    }
    EXPECT_EQ(mismatches.load(), 0);
}

TEST_F(SqliteStore, ConcurrentWritersOnTwoStores) {
    auto first = open();
    auto second = open();
    auto add_many = [](user_store& store, const std::string& prefix) {
        for (int i = 0; i < 100; ++i) {
            store.add_user(prefix + std::to_string(i), "h");
        }
        store.add_users({{prefix + "-batch", "h"}});
    };
    std::thread a([&] { add_many(*first, "a"); });
    std::thread b([&] { add_many(*second, "b"); });
    a.join();
    b.join();
    EXPECT_EQ(names(*first).size(), 202U);
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
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        EXPECT_EQ(authd::valid_user_name(c.name), c.valid);
    }
}

}  // namespace
