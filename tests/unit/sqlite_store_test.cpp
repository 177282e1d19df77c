// The SQLite user store beyond the contract it shares with the PostgreSQL store
// (store_contract_test.cpp): schema and migration, opening failures, change polling; and the user
// name rules (valid_user_name).
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <stdlib.h>
#include <string>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "authd/user_store.hpp"

#include "temp_dir.hpp"

namespace {

using authd::open_store;
using authd::store_error;
using authd::user_store;

using authd_unit_test::temp_dir;

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
    ASSERT_TRUE(store->add_user("alice", "h"));
    raw_db db(db_path());
    const auto stamps =
        db.column("SELECT created_at > 1600000000 AND updated_at >= created_at FROM users");
    EXPECT_EQ(stamps, std::vector<std::string>{"1"});
}

// What a reopened store keeps of its records: StoreContract.ReopenKeepsData.
TEST_F(SqliteStore, ReopenKeepsSchemaVersion) {
    ASSERT_TRUE(open()->add_user("alice", "a"));
    open();
    raw_db db(db_path());
    EXPECT_EQ(db.column("SELECT version FROM schema_version"), std::vector<std::string>{"3"});
}

TEST_F(SqliteStore, VersionOneIsMigratedKeepingItsUsers) {
    {
        auto store = open();
        ASSERT_TRUE(store->add_user("alice", "a"));
    }
    raw_db(db_path()).exec(
        "DROP TABLE revoked_tokens; DROP TABLE token_cutoffs; "
        "UPDATE schema_version SET version = 1");  // as v1 left it
    auto store = open();
    EXPECT_EQ(store->find_hash("alice"), "a");
    store->revoke_token("t1", 2'000'000'000);
    ASSERT_TRUE(store->set_hash("alice", "b"));
    EXPECT_GT(store->find_login("alice").value().tokens_not_before, 0);
    raw_db db(db_path());
    EXPECT_EQ(db.column("SELECT version FROM schema_version"), std::vector<std::string>{"3"});
}

TEST_F(SqliteStore, NewerSchemaRefused) {
    open();
    raw_db(db_path()).exec("UPDATE schema_version SET version = 4");
    const std::string message = open_error(uri());
    EXPECT_NE(message.find("schema version 4 is newer"), std::string::npos) << message;
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
