// The contract of user_store (authd/store/user_store.hpp) that every backend keeps, run against
// each: SQLite in a temporary file, and PostgreSQL in a database of the test's own (skipped without
// AUTHD_TEST_PG_URI, as in pg_store_test.cpp). What only one backend does (schema, migrations,
// refusals, change polling or notifications, roles, outages) is tested in its own file,
// sqlite_store_test.cpp or pg_store_test.cpp.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "authd/store/store_backend.hpp"
#include "authd/util/clock.hpp"

#include "support/store_backends.hpp"

namespace {

using authd::open_store;
using authd::store_backend;
using authd::user_record;
using authd::user_store;

using authd_test_support::names;
using authd_test_support::postgres_backend;
using authd_test_support::revocations;
using authd_test_support::revoked;
using authd_test_support::sqlite_backend;

template <typename Backend>
class StoreContract : public ::testing::Test {
  protected:
    void SetUp() override {
        if (const auto reason = Backend::skip_reason()) {
            GTEST_SKIP() << *reason;
        }
        backend_.emplace();
    }

    // Another store on the same data, as another process (or authd after a restart) would open.
    std::unique_ptr<store_backend> open() const { return backend_->open(); }

    std::optional<Backend> backend_;
};

using backends = ::testing::Types<sqlite_backend, postgres_backend>;
// (ctest names them StoreContract.AddThenFind<(anonymous namespace)::sqlite_backend>, ...)
TYPED_TEST_SUITE(StoreContract, backends);

// --- records -----------------------------------------------------------------------------------

TYPED_TEST(StoreContract, AddThenFind) {
    auto store = this->open();
    EXPECT_TRUE(store->users().add_user("alice", "$argon2id$alice"));
    EXPECT_EQ(store->users().find_hash("alice"), "$argon2id$alice");
    EXPECT_EQ(store->users().find_hash("bob"), std::nullopt);
    EXPECT_EQ(store->users().find_hash(""), std::nullopt);
    EXPECT_EQ(store->users().find_hash(std::string_view()), std::nullopt);
}

// --- token cutoffs ------------------------------------------------------------------------------

std::int64_t unix_seconds() {
    return authd::unix_now();  // the store's own clock
}

std::int64_t cutoff_of(store_backend& store, const std::string& name) {
    for (const auto& [n, not_before] : store.cutoffs().token_cutoffs(0)) {
        if (n == name) {
            return not_before;
        }
    }
    return 0;
}

// A password change and a removal void the user's tokens issued until then (the cutoff is the
// second after the change); a rehash, an add and an import do not.
TYPED_TEST(StoreContract, PasswordChangeAndRemovalCutTokensRehashDoesNot) {
    auto store = this->open();
    ASSERT_EQ(store->users().add_users({{"alice", "a1"}, {"bob", "b1"}, {"carol", "c1"}}), 3U);
    EXPECT_EQ(store->users().find_login("alice").value().tokens_not_before, 0);
    EXPECT_EQ(store->users().find_login("alice").value().phc, "a1");
    EXPECT_FALSE(store->users().find_login("nobody").has_value());
    EXPECT_TRUE(store->cutoffs().token_cutoffs(0).empty());

    const auto before = unix_seconds();
    ASSERT_TRUE(store->users().set_hash("alice", "a2"));
    ASSERT_TRUE(store->users().replace_hash("bob", "b1", "b2"));
    ASSERT_TRUE(store->users().remove_user("carol"));
    const auto after = unix_seconds();

    const auto alice = store->users().find_login("alice");
    ASSERT_TRUE(alice.has_value());
    EXPECT_EQ(alice->phc, "a2");
    EXPECT_GE(alice->tokens_not_before, before + 1);
    EXPECT_LE(alice->tokens_not_before, after + 1);
    EXPECT_EQ(store->users().find_login("bob").value().tokens_not_before, 0)
        << "a rehash cuts nothing";
    const auto carol = cutoff_of(*store, "carol");
    EXPECT_GE(carol, before + 1);
    EXPECT_LE(carol, after + 1);
    EXPECT_EQ(cutoff_of(*store, "bob"), 0);

    // Nothing for users that do not exist.
    EXPECT_FALSE(store->users().set_hash("nobody", "x"));
    EXPECT_FALSE(store->users().remove_user("nobody"));
    EXPECT_FALSE(store->users().replace_hash("carol", "c1", "c2"));
    EXPECT_EQ(cutoff_of(*store, "nobody"), 0);

    // Carol added again keeps the cutoff: the old carol's tokens stay void.
    ASSERT_TRUE(store->users().add_user("carol", "c3"));
    EXPECT_EQ(store->users().find_login("carol").value().tokens_not_before, carol);

    // Another store on the same data sees them; since filters on not_before.
    auto other = this->open();
    EXPECT_EQ(other->users().find_login("alice").value().tokens_not_before,
              alice->tokens_not_before);
    const auto latest = std::max(alice->tokens_not_before, carol);
    for (const auto& [name, not_before] : other->cutoffs().token_cutoffs(latest - 1)) {
        EXPECT_EQ(not_before, latest) << name;
    }
    EXPECT_TRUE(other->cutoffs().token_cutoffs(latest).empty());
    EXPECT_EQ(other->cutoffs().token_cutoffs(before - 10).size(), 2U);
}

TYPED_TEST(StoreContract, AddExistingChangesNothing) {
    auto store = this->open();
    ASSERT_TRUE(store->users().add_user("alice", "first"));
    EXPECT_FALSE(store->users().add_user("alice", "second"));
    EXPECT_EQ(store->users().find_hash("alice"), "first");
}

TYPED_TEST(StoreContract, NamesAreExactBytes) {
    auto store = this->open();
    ASSERT_TRUE(store->users().add_user("alice", "lower"));
    EXPECT_TRUE(store->users().add_user("Alice", "upper"));
    EXPECT_TRUE(store->users().add_user("alice ", "space"));
    EXPECT_EQ(store->users().find_hash("alice"), "lower");
    EXPECT_EQ(store->users().find_hash("Alice"), "upper");
    EXPECT_EQ(store->users().find_hash("alice "), "space");
}

TYPED_TEST(StoreContract, SetHash) {
    auto store = this->open();
    ASSERT_TRUE(store->users().add_user("alice", "old"));
    EXPECT_TRUE(store->users().set_hash("alice", "new"));
    EXPECT_EQ(store->users().find_hash("alice"), "new");
    EXPECT_FALSE(store->users().set_hash("nobody", "new"));
    EXPECT_EQ(store->users().find_hash("nobody"), std::nullopt);
}

TYPED_TEST(StoreContract, ReplaceHash) {
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
        const TypeParam backend;  // each case on a store of its own
        auto store = backend.open();
        ASSERT_TRUE(store->users().add_user("alice", "current"));
        EXPECT_EQ(store->users().replace_hash(c.name, c.expected, "rehashed"), c.replaced);
        EXPECT_EQ(store->users().find_hash("alice"), c.stored_after);
        EXPECT_EQ(store->users().find_hash("nobody"), std::nullopt);
    }
}

TYPED_TEST(StoreContract, RemoveUser) {
    auto store = this->open();
    ASSERT_TRUE(store->users().add_user("alice", "a"));
    ASSERT_TRUE(store->users().add_user("bob", "b"));
    EXPECT_TRUE(store->users().remove_user("alice"));
    EXPECT_EQ(store->users().find_hash("alice"), std::nullopt);
    EXPECT_FALSE(store->users().remove_user("alice"));
    EXPECT_EQ(store->users().find_hash("bob"), "b");
    EXPECT_TRUE(store->users().add_user("alice", "again"));
    EXPECT_EQ(store->users().find_hash("alice"), "again");
}

TYPED_TEST(StoreContract, ForEachNameInByteOrder) {
    auto store = this->open();
    for (const char* name : {"carol", "élodie", "bob", "Bob", "alice", "al"}) {
        ASSERT_TRUE(store->users().add_user(name, "h"));
    }
    // Byte order of UTF-8, which is code point order, whatever the database's locale: upper case
    // first, accents last.
    const std::vector<std::string> expected{"Bob", "al", "alice", "bob", "carol", "élodie"};
    EXPECT_EQ(names(*store), expected);
}

TYPED_TEST(StoreContract, ForEachNameOfEmptyStore) {
    auto store = this->open();
    EXPECT_TRUE(names(*store).empty());
}

TYPED_TEST(StoreContract, AddUsersSkipsExistingAndRepeated) {
    auto store = this->open();
    ASSERT_TRUE(store->users().add_user("alice", "kept"));
    const std::vector<user_record> batch{
        {"alice", "ignored"}, {"bob", "bob-1"}, {"carol", "carol"}, {"bob", "bob-2"}};
    EXPECT_EQ(store->users().add_users(batch), 2U);
    EXPECT_EQ(store->users().find_hash("alice"), "kept");
    EXPECT_EQ(store->users().find_hash("bob"), "bob-1");
    EXPECT_EQ(store->users().find_hash("carol"), "carol");
    EXPECT_EQ(store->users().add_users(batch), 0U);
    EXPECT_EQ(store->users().add_users({}), 0U);
}

TYPED_TEST(StoreContract, AddUsersLargeBatch) {
    auto store = this->open();
    std::vector<user_record> batch;
    batch.reserve(5000);
    for (int i = 0; i < 5000; ++i) {
        batch.push_back({"user" + std::to_string(i), "hash" + std::to_string(i)});
    }
    EXPECT_EQ(store->users().add_users(batch), batch.size());
    EXPECT_EQ(names(*store).size(), batch.size());
    EXPECT_EQ(store->users().find_hash("user4999"), "hash4999");
}

// authd restarted: what the store held is still there. (That its schema version stays is checked
// in each backend's file: SqliteStore.ReopenKeepsSchemaVersion, PgStore.ReopenKeepsSchemaVersion.)
TYPED_TEST(StoreContract, ReopenKeepsData) {
    {
        auto store = this->open();
        ASSERT_TRUE(store->users().add_user("alice", "a"));
    }
    auto store = this->open();
    EXPECT_EQ(store->users().find_hash("alice"), "a");
}

// --- revoked tokens ----------------------------------------------------------------------------

TYPED_TEST(StoreContract, RevokedTokensLastUntilTheyExpire) {
    auto store = this->open();
    store->revocations().revoke_token("early", 100);
    store->revocations().revoke_token("late", 300);
    store->revocations().revoke_token("late", 300);  // twice is not an error
    EXPECT_EQ(revoked(*store, 50), (revocations{{"early", 100}, {"late", 300}}));
    EXPECT_EQ(revoked(*store, 100), (revocations{{"late", 300}}));
    store->revocations().purge_revoked_tokens(200);
    EXPECT_EQ(revoked(*store, 0), (revocations{{"late", 300}}));
    auto again = this->open();  // another connection, as after a restart
    EXPECT_EQ(revoked(*again, 0), (revocations{{"late", 300}}));
}

// --- concurrency -------------------------------------------------------------------------------

TYPED_TEST(StoreContract, ConcurrentReadsWhileWriting) {
    auto store = this->open();
    std::vector<user_record> users;
    users.reserve(100);
    for (int i = 0; i < 100; ++i) {
        users.push_back({"user" + std::to_string(i), "hash" + std::to_string(i)});
    }
    ASSERT_EQ(store->users().add_users(users), users.size());

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
                if (store->users().find_hash(user.name) != user.phc) {
                    ++mismatches;
                }
            }
        }));
    }
    std::thread writer(guarded([&] {
        for (int i = 0; i < 60; ++i) {
            const std::string name = "writer" + std::to_string(i % 10);
            store->users().add_user(name, "h");
            store->users().set_hash(name, "h2");
            store->users().remove_user(name);
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

TYPED_TEST(StoreContract, ConcurrentWritersOnTwoStores) {
    auto first = this->open();
    auto second = this->open();
    auto add_many = [](user_store& store, const std::string& prefix) {
        for (int i = 0; i < 100; ++i) {
            store.add_user(prefix + std::to_string(i), "h");
        }
        store.add_users({{prefix + "-batch", "h"}});
    };
    std::thread a([&] { add_many(first->users(), "a"); });
    std::thread b([&] { add_many(second->users(), "b"); });
    a.join();
    b.join();
    EXPECT_EQ(names(*first).size(), 202U);
}

}  // namespace
