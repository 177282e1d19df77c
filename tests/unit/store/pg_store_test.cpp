// The PostgreSQL user store against a real server, beyond the contract it shares with the SQLite
// store (store_contract_test.cpp): schema and migration, parameter binding, change and revocation
// notifications, opening failures, least-privilege roles and an unreachable server.
//
// scripts/test.sh starts a throw-away cluster and sets AUTHD_TEST_PG_URI; without it these tests
// are skipped. Each test gets a database of its own (CREATE DATABASE t_<random>), so tests may run
// in parallel; the ones that stop the server start a private cluster (scripts/pg-cluster.sh).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <signal.h>
#include <sstream>
#include <stdexcept>
#include <stdlib.h>
#include <string>
#include <sys/types.h>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "authd/login/attempt_limiter.hpp"
#include "authd/store/limit_store.hpp"
#include "authd/store/store_backend.hpp"

#include "support/limit_migration.hpp"
#include "support/open_error.hpp"
#include "support/pg_test_support.hpp"
#include "support/store_backends.hpp"

#ifndef AUTHD_PG_CLUSTER_SCRIPT
#error "AUTHD_PG_CLUSTER_SCRIPT must name scripts/pg-cluster.sh (tests/CMakeLists.txt)"
#endif

namespace authd::detail {
// The counters' schema as version 4 wrote it (core/src/store/pg/pg_limits.cpp).
extern const char* const pg_limits_migration;
}  // namespace authd::detail

namespace {

using authd_test_support::open_error;
using namespace std::chrono_literals;
using authd::account_digest;
using authd::change_listener;
using authd::open_store;
using authd::store_backend;
using authd::store_error;
using authd::store_unavailable;
using authd::user_record;
using authd::user_store;
using authd_pg_test::base_uri;
using authd_pg_test::cluster_processes;
using authd_pg_test::raw_pg;
using authd_pg_test::server_address;
using authd_pg_test::skip_message;
using authd_pg_test::test_database;
using steady = std::chrono::steady_clock;

using authd_test_support::names;
using authd_test_support::revocations;
using authd_test_support::revoked;

// Records what a store tells its change listener.
class recorder final : public change_listener {
  public:
    void token_revoked(std::string_view jti, std::int64_t exp) override {
        const std::lock_guard lock(mutex_);
        revoked_.emplace_back(jti, exp);
        changed_.notify_all();
    }
    void user_changed(std::string_view name) override {
        const std::lock_guard lock(mutex_);
        names_.emplace_back(name);
        changed_.notify_all();
    }
    void tokens_cut(std::string_view name, std::int64_t not_before) override {
        const std::lock_guard lock(mutex_);
        cutoffs_.emplace_back(name, not_before);
        changed_.notify_all();
    }
    void all_changed() override {
        const std::lock_guard lock(mutex_);
        ++all_;
        changed_.notify_all();
    }
    void known_address(const account_digest& account, std::uint64_t address,
                       double age_seconds) override {
        const std::lock_guard lock(mutex_);
        known_.push_back({account, address, age_seconds});
        changed_.notify_all();
    }

    bool wait_for_name(const std::string& name, std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] {
            return std::find(names_.begin(), names_.end(), name) != names_.end();
        });
    }
    bool wait_for_token(const std::string& jti, std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] {
            return std::any_of(revoked_.begin(), revoked_.end(),
                               [&](const auto& r) { return r.first == jti; });
        });
    }
    revocations revoked() const {
        const std::lock_guard lock(mutex_);
        return revoked_;
    }
    bool wait_for_cutoff(const std::string& name, std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] {
            return std::any_of(cutoffs_.begin(), cutoffs_.end(),
                               [&](const auto& c) { return c.first == name; });
        });
    }
    revocations cutoffs() const {  // (name, not_before)
        const std::lock_guard lock(mutex_);
        return cutoffs_;
    }
    bool wait_for_all(std::chrono::milliseconds timeout, int more_than = 0) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return all_ > more_than; });
    }
    std::vector<std::string> names() const {
        const std::lock_guard lock(mutex_);
        return names_;
    }
    int all() const {
        const std::lock_guard lock(mutex_);
        return all_;
    }
    // The age the listener was told of the account's known address, once it is told.
    std::optional<double> wait_for_known(const account_digest& account, std::uint64_t address,
                                         std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        std::optional<double> age;
        changed_.wait_for(lock, timeout, [&] {
            for (const auto& k : known_) {
                if (k.account == account && k.address == address) {
                    age = k.age_seconds;
                }
            }
            return age.has_value();
        });
        return age;
    }

  private:
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<std::string> names_;
    revocations revoked_;
    revocations cutoffs_;
    struct known_entry {
        account_digest account;
        std::uint64_t address;
        double age_seconds;
    };
    std::vector<known_entry> known_;
    int all_ = 0;
};

class PgStore : public ::testing::Test {
  protected:
    void SetUp() override {
        const auto uri = base_uri();
        if (!uri) {
            GTEST_SKIP() << skip_message;
        }
        address_ = server_address::of(*uri);
        db_ = std::make_unique<test_database>(*uri);
    }

    std::string uri(const std::string& user = "authd") const {
        return address_.uri(db_->name(), user);
    }
    std::unique_ptr<store_backend> open() const { return open_store(uri()); }
    raw_pg raw() const { return raw_pg(uri()); }

    server_address address_;
    std::unique_ptr<test_database> db_;
};

// --- records and schema ------------------------------------------------------------------------

// Calls one after the other reuse one pooled connection (a connection per call would cost a
// handshake each, and a server's connection slots under load).
TEST_F(PgStore, SequentialCallsReuseOnePooledConnection) {
    auto store = open();
    ASSERT_TRUE(store->users().add_user("alice", "a"));
    auto db = raw();
    const auto authd_backends = [&] {
        return db.column(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND "
            "pid <> pg_backend_pid() ORDER BY pid");
    };
    const auto before = authd_backends();
    ASSERT_EQ(before.size(), 1U);
    for (int i = 0; i < 20; ++i) {
        ASSERT_EQ(store->users().find_hash("alice"), "a");
        ASSERT_TRUE(store->users().set_hash("alice", "a"));
    }
    EXPECT_EQ(authd_backends(), before) << "the same connection, not a new one per call";
}

// A statement the server refuses for now (a serialization failure, a deadlock: SQLSTATE 40001,
// 40P01) is unavailable (503, retry), whatever else the statement's results hold; any other
// refusal is a store error (500). The server's own message is kept.
TEST_F(PgStore, ATransientRefusalIsUnavailableAndAnyOtherAStoreError) {
    auto store = open();
    ASSERT_TRUE(store->users().add_user("alice", "a"));
    raw().exec(
        "CREATE FUNCTION t_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.phc = 'serialization' THEN RAISE EXCEPTION 'test: not now' USING ERRCODE = "
        "'40001'; ELSIF NEW.phc = 'deadlock' THEN RAISE EXCEPTION 'test: deadlock' USING "
        "ERRCODE = '40P01'; ELSE RAISE EXCEPTION 'test: refused' USING ERRCODE = '23514'; END "
        "IF; END $$; CREATE TRIGGER t_refuse BEFORE UPDATE ON users FOR EACH ROW EXECUTE "
        "FUNCTION t_refuse()");
    for (const std::string phc : {"serialization", "deadlock"}) {
        try {
            store->users().set_hash("alice", phc);
            ADD_FAILURE() << phc << ": not refused";
        } catch (const store_unavailable& e) {
            EXPECT_NE(std::string(e.what()).find("test: "), std::string::npos) << e.what();
        } catch (const store_error& e) {
            ADD_FAILURE() << phc << ": a transient refusal taken for a failure: " << e.what();
        }
    }
    try {
        store->users().set_hash("alice", "other");
        ADD_FAILURE() << "not refused";
    } catch (const store_unavailable& e) {
        ADD_FAILURE() << "a refusal taken for an outage: " << e.what();
    } catch (const store_error& e) {
        EXPECT_NE(std::string(e.what()).find("test: refused"), std::string::npos) << e.what();
    }
    EXPECT_EQ(store->users().find_hash("alice"), "a");
}

TEST_F(PgStore, ParametersAreBoundNotSpliced) {
    auto store = open();
    const std::string name = "o'brien\"; DROP TABLE users; --";
    const std::string phc = "$argon2id$v=19$m=65536,t=2,p=1$'\\x00";
    ASSERT_TRUE(store->users().add_user(name, phc));
    EXPECT_EQ(store->users().find_hash(name), phc);
    EXPECT_EQ(names(*store), std::vector<std::string>{name});
}

TEST_F(PgStore, ForEachNameCallbackThrowing) {
    auto store = open();
    ASSERT_EQ(store->users().add_users({{"a", "h"}, {"b", "h"}, {"c", "h"}}), 3U);
    EXPECT_THROW(
        store->users().for_each_name([](std::string_view) { throw std::runtime_error("stop"); }),
        std::runtime_error);
    // The connection left mid-listing is not reused as if nothing happened.
    EXPECT_EQ(names(*store).size(), 3U);
    EXPECT_EQ(store->users().find_hash("b"), "h");
}

TEST_F(PgStore, AddUsersIsOneTransaction) {
    auto store = open();
    // An invalid name (a NUL byte, which PostgreSQL text cannot hold) fails the whole batch.
    const std::vector<user_record> batch{{"alice", "a"}, {std::string("b\0b", 3), "b"}};
    EXPECT_THROW(store->users().add_users(batch), store_error);
    EXPECT_EQ(store->users().find_hash("alice"), std::nullopt);
    EXPECT_TRUE(store->users().add_user("alice", "a"));  // the connection is usable again
}

TEST_F(PgStore, SchemaIsVersionFiveWithTriggers) {
    open();
    auto db = raw();
    EXPECT_EQ(db.column("SELECT version FROM schema_version"), std::vector<std::string>{"5"});
    EXPECT_EQ(db.column("SELECT collation_name FROM information_schema.columns "
                        "WHERE table_name = 'users' AND column_name = 'name'"),
              std::vector<std::string>{"C"});
    EXPECT_EQ(db.column("SELECT tgname FROM pg_trigger WHERE tgrelid = 'users'::regclass"),
              std::vector<std::string>{"users_changed"});
    EXPECT_EQ(db.column("SELECT tgname FROM pg_trigger WHERE tgrelid = 'revoked_tokens'::regclass"),
              std::vector<std::string>{"token_revoked"});
    EXPECT_EQ(db.column("SELECT indexname FROM pg_indexes WHERE tablename = 'revoked_tokens' "
                        "ORDER BY indexname"),
              (std::vector<std::string>{"revoked_tokens_exp", "revoked_tokens_pkey"}));
    EXPECT_EQ(db.column("SELECT data_type FROM information_schema.columns "
                        "WHERE table_name = 'revoked_tokens' ORDER BY column_name"),
              (std::vector<std::string>{"bigint", "text"}));
    EXPECT_EQ(db.column("SELECT tgname FROM pg_trigger WHERE tgrelid = 'token_cutoffs'::regclass"),
              std::vector<std::string>{"tokens_cut"});
    EXPECT_EQ(db.column("SELECT indexname FROM pg_indexes WHERE tablename = 'token_cutoffs' "
                        "ORDER BY indexname"),
              (std::vector<std::string>{"token_cutoffs_not_before", "token_cutoffs_pkey"}));
}

TEST_F(PgStore, TimestampsAreSet) {
    auto store = open();
    ASSERT_TRUE(store->users().add_user("alice", "h"));
    const auto stamps =
        raw().column("SELECT created_at > 1600000000 AND updated_at >= created_at FROM users");
    EXPECT_EQ(stamps, std::vector<std::string>{"t"});
}

// What a reopened store keeps of its records: StoreContract.ReopenKeepsData.
TEST_F(PgStore, ReopenKeepsSchemaVersion) {
    ASSERT_TRUE(open()->users().add_user("alice", "a"));
    open();
    EXPECT_EQ(raw().column("SELECT version FROM schema_version"), std::vector<std::string>{"5"});
}

// The schema as version 1 left it: no revoked_tokens or token_cutoffs, nor their trigger
// functions, nor the counters of version 4 and their functions.
void downgrade_to_version_one(raw_pg& db) {
    db.exec(
        "DROP TABLE revoked_tokens; DROP FUNCTION authd_token_revoked(); "
        "DROP TABLE token_cutoffs; DROP FUNCTION authd_tokens_cut(); "
        "DROP FUNCTION authd_limit_admit, authd_limit_succeed, authd_limit_uncount, "
        "authd_limit_merge, authd_limit_prune, authd_forgiven, authd_backoff; "
        "DROP TABLE limit_counters, known_addresses; DROP FUNCTION authd_known_address_seen; "
        "UPDATE schema_version SET version = 1");
}

TEST_F(PgStore, VersionOneIsMigratedKeepingItsUsers) {
    {
        auto store = open();
        ASSERT_TRUE(store->users().add_user("alice", "a"));
    }
    {
        auto db = raw();
        downgrade_to_version_one(db);
    }
    auto store = open();
    EXPECT_EQ(store->users().find_hash("alice"), "a");
    EXPECT_EQ(raw().column("SELECT version FROM schema_version"), std::vector<std::string>{"5"});
    recorder heard;
    store->set_change_listener(&heard);
    auto other = open();
    other->revocations().revoke_token("t1", 2'000'000'000);
    EXPECT_EQ(revoked(*store, 0), (revocations{{"t1", 2'000'000'000}}));
    EXPECT_TRUE(heard.wait_for_token("t1", 1s));
    ASSERT_TRUE(other->users().set_hash("alice", "b"));
    EXPECT_TRUE(heard.wait_for_name("alice", 1s));
    store->set_change_listener(nullptr);
}

// Version 5 keys the counters by the digest of the name (issue 29): a version-4 database keeps
// its counts and known addresses, under the digest of each name, so that an upgrade gives no
// attacker a fresh budget and no owner loses a known address; its trigger tells the digest.
TEST_F(PgStore, VersionFourCountersAreKeptUnderTheirNamesDigests) {
    open();
    {
        auto db = raw();
        // The counters as version 4 made them (its very text), with a waiting account, an
        // address's count and a known address.
        db.exec(
            "DROP FUNCTION authd_limit_admit, authd_limit_succeed, authd_limit_uncount, "
            "authd_limit_merge, authd_limit_prune, authd_forgiven, authd_backoff; "
            "DROP TABLE limit_counters, known_addresses; DROP FUNCTION authd_known_address_seen; "
            "UPDATE schema_version SET version = 4");
        db.exec(authd::detail::pg_limits_migration);
        db.exec(
            "INSERT INTO limit_counters VALUES (0, 'älice', 0, 14, extract(epoch FROM now()), "
            "extract(epoch FROM now()) + 300, 9), (2, '', 77, 3, extract(epoch FROM now()), 0, 0); "
            "INSERT INTO known_addresses VALUES ('älice', 7, extract(epoch FROM now()))");
    }
    auto store = open();
    EXPECT_EQ(raw().column("SELECT version FROM schema_version"), std::vector<std::string>{"5"});
    auto* limits = store->limits();
    ASSERT_NE(limits, nullptr);
    authd_test_support::expect_old_counts_kept_under_digests(*limits);
    EXPECT_EQ(raw().column("SELECT count(*) FROM pg_proc WHERE proname LIKE 'authd_limit%'"),
              std::vector<std::string>{"5"});
}

TEST_F(PgStore, ConcurrentOpenMigratesOnce) {
    std::vector<std::thread> threads;
    threads.reserve(4);
    std::atomic<int> opened{0};
    std::mutex error_mutex;
    std::string error;
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&] {
            try {
                open();
                ++opened;
            } catch (const std::exception& e) {
                const std::lock_guard lock(error_mutex);
                error = e.what();
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(opened.load(), 4) << error;
    EXPECT_EQ(raw().column("SELECT count(*) FROM schema_version"), std::vector<std::string>{"1"});
}

TEST_F(PgStore, NewerSchemaRefused) {
    open();
    raw().exec("UPDATE schema_version SET version = version + 1");
    const auto newer = raw().column("SELECT version FROM schema_version");
    ASSERT_EQ(newer.size(), 1U);
    const std::string message = open_error(uri());
    EXPECT_NE(message.find("schema version " + newer[0] + " is newer"), std::string::npos)
        << message;
    EXPECT_NE(message.find(uri()), std::string::npos) << message;
}

TEST_F(PgStore, ForeignDatabaseRefused) {
    raw().exec("CREATE TABLE users(x INTEGER)");
    const std::string message = open_error(uri());
    EXPECT_NE(message.find("not an authd user store"), std::string::npos) << message;
}

TEST_F(PgStore, PollExternalChangesIsFalse) {
    auto store = open();
    auto other = open();
    ASSERT_TRUE(other->users().add_user("alice", "a"));
    ASSERT_TRUE(other->users().set_hash("alice", "b"));
    EXPECT_FALSE(store->users().poll_external_changes());  // pushed to the listener instead
}

// --- revoked tokens ----------------------------------------------------------------------------

TEST_F(PgStore, RevokedTokensKeepTheFirstExpiryAndFullRange) {
    auto store = open();
    const std::int64_t far = 9'000'000'000'000'000'000;
    store->revocations().revoke_token("t", far);
    store->revocations().revoke_token("t", 5);  // revoked already: stays as it was
    store->revocations().revoke_token("negative", -5);
    EXPECT_EQ(revoked(*store, -10), (revocations{{"negative", -5}, {"t", far}}));
    EXPECT_EQ(revoked(*store, far), revocations{});
    store->revocations().purge_revoked_tokens(far);
    EXPECT_EQ(raw().column("SELECT count(*) FROM revoked_tokens"), std::vector<std::string>{"0"});
}

TEST_F(PgStore, RevocationParametersAreBoundNotSpliced) {
    auto store = open();
    const std::string jti = "o'brien\"; DROP TABLE revoked_tokens; --";
    store->revocations().revoke_token(jti, 300);
    EXPECT_EQ(revoked(*store, 0), (revocations{{jti, 300}}));
}

TEST_F(PgStore, ManyRevokedTokensAreListed) {
    auto store = open();
    raw().exec(
        "INSERT INTO revoked_tokens(jti, exp) "
        "SELECT 'jti' || i, 1000 + i FROM generate_series(1, 20000) AS i");
    const auto all = store->revocations().revoked_tokens(1000);
    EXPECT_EQ(all.size(), 20000U);
    EXPECT_EQ(store->revocations().revoked_tokens(20999).size(), 1U);
}

// --- change notifications ----------------------------------------------------------------------

TEST_F(PgStore, ListenerHearsOtherStoresChangesWithinOneSecond) {
    auto store = open();
    auto other = open();
    ASSERT_TRUE(other->users().add_users({{"alice", "a"}, {"bob", "b"}, {"carol", "c"}}) == 3U);
    recorder heard;
    store->set_change_listener(&heard);

    const auto start = steady::now();
    ASSERT_TRUE(other->users().set_hash("alice", "a2"));
    EXPECT_TRUE(heard.wait_for_name("alice", 1s));
    EXPECT_LT(steady::now() - start, 1s);
    ASSERT_TRUE(other->users().remove_user("bob"));
    EXPECT_TRUE(heard.wait_for_name("bob", 1s));
    ASSERT_TRUE(other->users().replace_hash("carol", "c", "c2"));
    EXPECT_TRUE(heard.wait_for_name("carol", 1s));
    // Any writer, not only authd: here a plain SQL client.
    raw().exec("UPDATE users SET phc = 'x' WHERE name = 'alice'");
    EXPECT_TRUE(heard.wait_for_name("alice", 1s));
    // A rename in SQL: both names, each alone (the cache drops two entries, not every user).
    raw().exec("UPDATE users SET name = 'carla' WHERE name = 'carol'");
    EXPECT_TRUE(heard.wait_for_name("carla", 1s));
    EXPECT_EQ(heard.all(), 0);
    store->set_change_listener(nullptr);
}

TEST_F(PgStore, AddingUsersNotifiesNobody) {
    auto store = open();
    recorder heard;
    store->set_change_listener(&heard);
    auto other = open();
    ASSERT_TRUE(other->users().add_user("alice", "a"));
    ASSERT_TRUE(other->users().set_hash("alice", "b"));  // notifications arrive in commit order
    ASSERT_TRUE(heard.wait_for_name("alice", 1s));
    EXPECT_EQ(heard.names(), std::vector<std::string>{"alice"});
    store->set_change_listener(nullptr);
}

TEST_F(PgStore, NameTooLongForAPayloadDropsEverything) {
    auto store = open();
    recorder heard;
    store->set_change_listener(&heard);
    const std::string long_name(9000, 'x');
    auto other = open();
    ASSERT_TRUE(other->users().add_user(long_name, "h"));
    ASSERT_TRUE(other->users().remove_user(long_name));
    EXPECT_TRUE(heard.wait_for_all(1s));
    store->set_change_listener(nullptr);
}

TEST_F(PgStore, UnregisteredListenerIsNotCalled) {
    auto store = open();
    recorder first;
    recorder second;
    store->set_change_listener(&first);
    store->set_change_listener(nullptr);
    auto other = open();
    ASSERT_TRUE(other->users().add_user("alice", "a"));
    ASSERT_TRUE(other->users().remove_user("alice"));
    store->set_change_listener(&second);
    ASSERT_TRUE(other->users().add_user("bob", "b"));
    ASSERT_TRUE(other->users().remove_user("bob"));
    EXPECT_TRUE(second.wait_for_name("bob", 1s));
    EXPECT_TRUE(first.names().empty());
    store->set_change_listener(nullptr);
}

// /logout on another node: its revocation reaches this node's listener within 1 s, whoever wrote
// it (the trigger notifies on any insert), and only once for a jti revoked twice.
TEST_F(PgStore, ListenerHearsOtherStoresRevocationsWithinOneSecond) {
    auto store = open();
    recorder heard;
    store->set_change_listener(&heard);
    auto other = open();

    const auto start = steady::now();
    other->revocations().revoke_token("Ab-_09xyz", 2'000'000'000);
    EXPECT_TRUE(heard.wait_for_token("Ab-_09xyz", 1s));
    EXPECT_LT(steady::now() - start, 1s);
    other->revocations().revoke_token("Ab-_09xyz", 2'000'000'000);
    raw().exec("INSERT INTO revoked_tokens(jti, exp) VALUES ('by-sql', 1234)");
    EXPECT_TRUE(heard.wait_for_token("by-sql", 1s));
    EXPECT_EQ(heard.revoked(), (revocations{{"Ab-_09xyz", 2'000'000'000}, {"by-sql", 1234}}));
    EXPECT_TRUE(heard.names().empty());
    EXPECT_EQ(heard.all(), 0);
    store->set_change_listener(nullptr);
}

// Anyone allowed to connect may NOTIFY on the channel: what is not "<exp> <jti>" is ignored.
TEST_F(PgStore, MalformedRevocationNotificationsAreIgnored) {
    auto store = open();
    recorder heard;
    store->set_change_listener(&heard);
    auto db = raw();
    for (const char* payload :
         {"garbage", "12", "12 ", " abc", "12  abc", "12 a b", "-5 abc", "+5 abc", "0x10 abc",
          "5a abc", "99999999999999999999 abc", "12 ab=", "12 a/b", "12 a.b", "12 \xc3\xa9"}) {
        SCOPED_TRACE(payload);
        db.exec(std::string("SELECT pg_notify('authd_revocations', $$") + payload + "$$)");
    }
    db.exec("SELECT pg_notify('authd_revocations', '42 valid')");  // delivered in order
    ASSERT_TRUE(heard.wait_for_token("valid", 1s));
    EXPECT_EQ(heard.revoked(), (revocations{{"valid", 42}}));
    EXPECT_TRUE(heard.names().empty());
    EXPECT_EQ(heard.all(), 0);
    store->set_change_listener(nullptr);
}

// A jti too long for a notification's payload is sent as '': every revocation is read again.
TEST_F(PgStore, JtiTooLongForAPayloadRereadsEveryRevocation) {
    auto store = open();
    auto other = open();
    other->revocations().revoke_token("earlier", 2'000'000'000);
    recorder heard;
    store->set_change_listener(&heard);
    const std::string long_jti(9000, 'x');
    other->revocations().revoke_token(long_jti, 2'000'000'000);
    EXPECT_TRUE(heard.wait_for_token(long_jti, 1s));
    EXPECT_TRUE(heard.wait_for_token("earlier", 1s));
    store->set_change_listener(nullptr);
}

// authd reads the revocations, then registers its listener: those made in between are not lost,
// since the feed reads them again once it listens.
TEST_F(PgStore, ListenerIsToldOfRevocationsMadeBeforeItListened) {
    auto store = open();
    auto other = open();
    other->revocations().revoke_token("before", 2'000'000'000);
    other->revocations().revoke_token("expired", 1);
    recorder heard;
    store->set_change_listener(&heard);
    EXPECT_TRUE(heard.wait_for_token("before", 1s));
    const auto got = heard.revoked();
    EXPECT_EQ(
        std::count_if(got.begin(), got.end(), [](const auto& r) { return r.first == "expired"; }),
        0);
    store->set_change_listener(nullptr);
}

// A revocation made while the feed was disconnected sends it no notification: once it listens
// again, it reads the table. (The trigger is disabled here, so that the table is the only way
// the revocation can be heard of.)
TEST_F(PgStore, RevocationsMissedWhileDisconnectedAreReadAgain) {
    auto store = open();
    recorder heard;
    store->set_change_listener(&heard);
    auto db = raw();
    db.exec("ALTER TABLE revoked_tokens DISABLE TRIGGER token_revoked");
    db.exec("INSERT INTO revoked_tokens(jti, exp) VALUES ('missed', 2000000000)");
    std::this_thread::sleep_for(200ms);
    ASSERT_FALSE(heard.wait_for_token("missed", 0ms)) << "the trigger notified all the same";
    db.exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()");
    EXPECT_TRUE(heard.wait_for_all(3s));
    EXPECT_TRUE(heard.wait_for_token("missed", 3s));
    db.exec("ALTER TABLE revoked_tokens ENABLE TRIGGER token_revoked");
    auto other = open();
    other->revocations().revoke_token("after", 2'000'000'000);
    EXPECT_TRUE(heard.wait_for_token("after", 1s));
    store->set_change_listener(nullptr);
}

// authctl user passwd and user remove on one node (or by SQL): every listening node hears the
// user's token cutoff, "<not_before> <name>", within a second; a rehash sends none.
TEST_F(PgStore, ListenerHearsTokenCutoffsWithinOneSecond) {
    auto store = open();
    auto other = open();
    ASSERT_EQ(other->users().add_users({{"alice", "a"}, {"bob smith", "b"}, {"carol", "c"}}), 3U);
    recorder heard;
    store->set_change_listener(&heard);
    ASSERT_TRUE(other->users().replace_hash("carol", "c", "c2"));
    ASSERT_TRUE(other->users().set_hash("alice", "a2"));
    ASSERT_TRUE(other->users().remove_user("bob smith"));
    EXPECT_TRUE(heard.wait_for_cutoff("alice", 1s));
    EXPECT_TRUE(heard.wait_for_cutoff("bob smith", 1s));
    const auto alice = other->users().find_login("alice").value().tokens_not_before;
    const auto got = heard.cutoffs();
    EXPECT_EQ(
        std::count(got.begin(), got.end(), std::pair<std::string, std::int64_t>{"alice", alice}),
        1);
    EXPECT_EQ(
        std::count_if(got.begin(), got.end(), [](const auto& c) { return c.first == "carol"; }), 0);
    // What is not the trigger's is ignored; a name too long for a payload rereads them all.
    auto db = raw();
    for (const char* payload : {"garbage", "12", "12 ", "-5 x", "99999999999999999999 x"}) {
        db.exec(std::string("SELECT pg_notify('authd_token_cutoffs', $$") + payload + "$$)");
    }
    db.exec("SELECT pg_notify('authd_token_cutoffs', '42 dave jones')");
    EXPECT_TRUE(heard.wait_for_cutoff("dave jones", 1s));
    const std::string long_name(9000, 'n');
    ASSERT_TRUE(other->users().add_user(long_name, "x"));
    ASSERT_TRUE(other->users().set_hash(long_name, "y"));
    EXPECT_TRUE(heard.wait_for_cutoff(long_name, 1s));
    store->set_change_listener(nullptr);
}

// A cutoff written while the feed was disconnected is read from the table once it listens again
// (the trigger is disabled, so that the table is the only way to hear of it).
TEST_F(PgStore, TokenCutoffsMissedWhileDisconnectedAreReadAgain) {
    auto store = open();
    ASSERT_TRUE(store->users().add_user("alice", "a"));
    recorder heard;
    store->set_change_listener(&heard);
    auto db = raw();
    db.exec("ALTER TABLE token_cutoffs DISABLE TRIGGER tokens_cut");
    ASSERT_TRUE(open()->users().set_hash("alice", "b"));
    std::this_thread::sleep_for(200ms);
    ASSERT_FALSE(heard.wait_for_cutoff("alice", 0ms)) << "the trigger notified all the same";
    db.exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()");
    EXPECT_TRUE(heard.wait_for_cutoff("alice", 3s));
    db.exec("ALTER TABLE token_cutoffs ENABLE TRIGGER tokens_cut");
    store->set_change_listener(nullptr);
}

// An address that became known to an account (a success on another node) while the feed was
// disconnected is read from the table once it listens again, whatever its age (the limiter applies
// its own window): else this node would not spare that owner during a later outage of the store.
// The trigger is disabled, so that the table is the only way to hear of it.
TEST_F(PgStore, KnownAddressesMissedWhileDisconnectedAreReadAgain) {
    using namespace std::chrono_literals;
    auto store = open();
    recorder heard;
    store->set_change_listener(&heard);
    auto db = raw();
    db.exec("ALTER TABLE known_addresses DISABLE TRIGGER known_address_seen");
    const auto alice = account_digest::of("alice");
    const auto bob = account_digest::of("bob");
    db.exec("INSERT INTO known_addresses VALUES (decode('" + alice.hex() +
            "', 'hex'), 7, extract(epoch FROM clock_timestamp()) - 5)");
    db.exec("INSERT INTO known_addresses VALUES (decode('" + bob.hex() +
            "', 'hex'), 8, extract(epoch FROM clock_timestamp()) - 400 * 86400)");
    std::this_thread::sleep_for(200ms);
    ASSERT_FALSE(heard.wait_for_known(alice, 7, 0ms)) << "the trigger notified all the same";
    db.exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()");
    const auto age = heard.wait_for_known(alice, 7, 3s);
    ASSERT_TRUE(age) << "not read again after the feed reconnected";
    EXPECT_GE(*age, 4.0);
    EXPECT_LT(*age, 60.0);
    const auto old = heard.wait_for_known(bob, 8, 1s);
    ASSERT_TRUE(old);
    EXPECT_GT(*old, 399.0 * 86400);
    db.exec("ALTER TABLE known_addresses ENABLE TRIGGER known_address_seen");
    store->set_change_listener(nullptr);
}

// A connection killed under the store (pg_terminate_backend, a proxy's idle timeout): the next
// read reconnects by itself, and the feed reconnects and drops the cache (it may have missed
// notifications meanwhile).
TEST_F(PgStore, RecoversFromKilledConnections) {
    auto store = open();
    ASSERT_TRUE(store->users().add_user("alice", "a"));
    recorder heard;
    store->set_change_listener(&heard);
    raw().exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()");
    EXPECT_EQ(store->users().find_hash("alice"), "a");
    EXPECT_TRUE(heard.wait_for_all(3s));
    auto other = open();
    ASSERT_TRUE(other->users().set_hash("alice", "b"));
    EXPECT_TRUE(heard.wait_for_name("alice", 1s));
    store->set_change_listener(nullptr);
}

// A server that stops answering without closing the connection (a hung host, a network that
// drops every packet; here its backend process stopped): the feed's heartbeat goes unanswered,
// and it reconnects, telling that it may have missed changes, within the heartbeat's interval and
// timeout (4 s), instead of waiting on a dead connection for ever.
TEST_F(PgStore, AFeedWhoseServerStopsAnsweringReconnects) {
    using namespace std::chrono_literals;
    auto store = open();
    recorder heard;
    store->set_change_listener(&heard);
    const int connects = heard.all();
    // The feed's own backend: the one that listens (found before its first heartbeat, 2 s on).
    auto db = raw();
    std::vector<std::string> pids;
    for (int i = 0; i < 100 && pids.size() != 1; ++i) {
        pids = db.column(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND "
            "query LIKE 'LISTEN authd_users%'");
        std::this_thread::sleep_for(10ms);
    }
    ASSERT_EQ(pids.size(), 1U) << "the feed's connection was not found";
    const pid_t feed = static_cast<pid_t>(std::stol(pids[0]));
    ASSERT_EQ(::kill(feed, SIGSTOP), 0) << "the cluster must run on this machine";
    const bool reconnected = heard.wait_for_all(10s, connects);
    ::kill(feed, SIGCONT);
    EXPECT_TRUE(reconnected) << "the feed still waits on a server that does not answer";
    // It hears changes again, on its new connection.
    auto other = open();
    ASSERT_TRUE(other->users().add_user("alice", "a"));
    ASSERT_TRUE(other->users().set_hash("alice", "b"));
    EXPECT_TRUE(heard.wait_for_name("alice", 2s));
    store->set_change_listener(nullptr);
}

// --- the shared brute-force counters (issue #14) -------------------------------------------------

// An admission decides on the count as another node's commit leaves it, never on one read before:
// while another transaction holds alice's row (here: the test's own, standing for a node's
// admission in progress), an admission waits for it, then sees what it committed. (Without the
// row lock, both would count from the same old value and one count would be lost: concurrent
// guesses on several nodes would get more than the policy allows.)
TEST_F(PgStore, AnAdmissionWaitsForTheRowAndCountsFromWhatTheOtherCommitted) {
    using namespace std::chrono_literals;
    auto store = open();
    auto* limits = store->limits();
    authd::limiter_config c;
    c.account = {3, 1s, 60s, 60s};
    c.address.free_failures = 0;
    ASSERT_EQ(limits->admit(authd::account_digest::of("alice"), 7, c, 1).wait,
              0U);  // alice's row exists
    auto holder = raw();
    holder.exec("BEGIN");
    holder.exec(
        "SELECT 1 FROM limit_counters WHERE kind = 0 AND account = sha256('alice') FOR UPDATE");
    std::optional<authd::limit_verdict> verdict;
    std::thread admission(
        [&] { verdict = limits->admit(authd::account_digest::of("alice"), 7, c, 2); });
    // Until the admission waits for the row lock (it is then past anything it read unlocked).
    auto watcher = raw();
    bool waiting = false;
    for (int i = 0; i < 500 && !waiting; ++i) {
        waiting =
            watcher.column(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                "current_database() AND wait_event_type = 'Lock'") == std::vector<std::string>{"1"};
        if (!waiting) {
            std::this_thread::sleep_for(10ms);
        }
    }
    EXPECT_TRUE(waiting) << "the admission never waited for the row";
    holder.exec(
        "UPDATE limit_counters SET failures = 10, blocked_until = "
        "extract(epoch FROM clock_timestamp()) + 60 WHERE kind = 0 AND account = sha256('alice')");
    holder.exec("COMMIT");
    admission.join();
    ASSERT_TRUE(verdict);
    EXPECT_GT(verdict->wait, 30U) << "admitted on a count read before the other commit";
    EXPECT_EQ(verdict->refused_by, authd::limit_budget::account);
}

// --- roles -------------------------------------------------------------------------------------

// docs/operations.md: the runtime role may read users and update their hashes, nothing else; a
// store whose schema is current opens without any right to create tables.
TEST_F(PgStore, RuntimeRoleWithLeastPrivilege) {
    auto owner = open();
    ASSERT_TRUE(owner->users().add_user("alice", "a"));
    raw().exec("GRANT SELECT ON schema_version TO authd_runtime");
    raw().exec("GRANT SELECT ON users TO authd_runtime");
    raw().exec("GRANT UPDATE (phc, updated_at) ON users TO authd_runtime");
    raw().exec("GRANT SELECT, INSERT, DELETE ON revoked_tokens TO authd_runtime");
    raw().exec("GRANT SELECT ON token_cutoffs TO authd_runtime");
    raw().exec(
        "GRANT SELECT, INSERT, UPDATE, DELETE ON limit_counters, known_addresses TO "
        "authd_runtime");

    auto runtime = open_store(uri("authd_runtime"));
    EXPECT_EQ(runtime->users().find_hash("alice"), "a");
    EXPECT_EQ(runtime->users().find_login("alice").value().tokens_not_before, 0);
    EXPECT_TRUE(runtime->users().replace_hash("alice", "a", "rehashed"));
    EXPECT_EQ(owner->users().find_hash("alice"), "rehashed");
    recorder heard;
    runtime->set_change_listener(&heard);
    ASSERT_TRUE(owner->users().set_hash("alice", "b"));
    EXPECT_TRUE(heard.wait_for_name("alice", 1s));
    runtime->set_change_listener(nullptr);

    try {
        runtime->users().add_user("bob", "b");
        ADD_FAILURE() << "the runtime role added a user";
    } catch (const store_unavailable& e) {
        ADD_FAILURE() << "a refused privilege is no outage: " << e.what();
    } catch (const store_error& e) {
        EXPECT_NE(std::string(e.what()).find("permission denied"), std::string::npos) << e.what();
    }
    EXPECT_THROW(runtime->users().remove_user("alice"), store_error);

    // /logout: revoked, listed, purged, and heard of by the other nodes.
    runtime->set_change_listener(&heard);
    auto other_node = open_store(uri("authd_runtime"));
    other_node->revocations().revoke_token("t1", 2'000'000'000);
    other_node->revocations().revoke_token("t1", 2'000'000'000);
    other_node->revocations().revoke_token("old", 100);
    EXPECT_TRUE(heard.wait_for_token("t1", 1s));
    runtime->revocations().purge_revoked_tokens(200);
    EXPECT_EQ(revoked(*runtime, 0), (revocations{{"t1", 2'000'000'000}}));
    runtime->set_change_listener(nullptr);
}

// A runtime role without the grants on revoked_tokens: a refused revocation is no outage.
TEST_F(PgStore, RuntimeRoleWithoutRevocationGrants) {
    open();
    raw().exec("GRANT SELECT ON schema_version TO authd_runtime");
    auto runtime = open_store(uri("authd_runtime"));
    try {
        runtime->revocations().revoke_token("t1", 2'000'000'000);
        ADD_FAILURE() << "revoked without the grant";
    } catch (const store_unavailable& e) {
        ADD_FAILURE() << "a refused privilege is no outage: " << e.what();
    } catch (const store_error& e) {
        EXPECT_NE(std::string(e.what()).find("permission denied"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("cannot revoke a token"), std::string::npos)
            << e.what();
    }
    EXPECT_THROW(runtime->revocations().revoked_tokens(0), store_error);
    EXPECT_THROW(runtime->revocations().purge_revoked_tokens(0), store_error);
}

// docs/operations.md: the owner role migrates; a node left on a version-1 schema refuses to start.
TEST_F(PgStore, RuntimeRoleCannotMigrateFromVersionOne) {
    open();
    {
        auto db = raw();
        downgrade_to_version_one(db);
        db.exec("GRANT SELECT ON schema_version TO authd_runtime");
    }
    const std::string message = open_error(uri("authd_runtime"));
    EXPECT_NE(message.find("cannot migrate the schema to version 2"), std::string::npos) << message;
    EXPECT_NE(message.find("permission denied"), std::string::npos) << message;
}

TEST_F(PgStore, RuntimeRoleCannotCreateTheSchema) {
    const std::string message = open_error(uri("authd_runtime"));
    EXPECT_NE(message.find("cannot migrate the schema to version 1"), std::string::npos) << message;
    EXPECT_NE(message.find("permission denied"), std::string::npos) << message;
}

// --- opening failures --------------------------------------------------------------------------

TEST_F(PgStore, BadUrisRefusedWithoutThePassword) {
    struct test_case {
        std::string uri;
        std::string reason;
    };
    const std::string server = address_.host + ":" + address_.port;
    const test_case cases[] = {
        {"postgresql://authd:hunter2@" + server + "/db?nonsense=1",
         "invalid URI query parameter: \"nonsense\""},
        {"postgresql://authd:hunter2@[::1/db", "invalid connection URI"},
        {"postgresql://authd:hunter2@host:notaport/db", "invalid integer value"},
        {"postgres://authd:hunter2@" + server + "/db?sslmode=sometimes", "sslmode"},
        // Characters libpq would split the password at: refused before libpq quotes the pieces.
        {"postgresql://authd:hun/ter?2@" + server + "/db", "percent-encode"},
        {"postgresql://authd:hun@ter2@" + server + "/db", "percent-encode"},
        {"postgresql://authd@" + server + "/db?password=hunter2&port=none",
         "invalid integer value"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.uri);
        const std::string message = open_error(c.uri);
        EXPECT_NE(message.find(c.reason), std::string::npos) << message;
        for (const char* piece : {"hunter2", "hun", "ter2"}) {
            EXPECT_EQ(message.find(piece), std::string::npos) << message;
        }
        EXPECT_NE(message.find("***"), std::string::npos) << message;
    }
}

// The label a message names the store by masks the password parameters' values, and only them:
// the other parameters stay readable, and their values are not taken for secrets.
TEST_F(PgStore, TheLabelMasksThePasswordOnly) {
    const std::string server = address_.host + ":" + address_.port;
    const std::string message = open_error("postgresql://authd@" + server +
                                           "/db?password=hunter2&application_name=probe7"
                                           "&sslmode=sometimes");
    EXPECT_NE(message.find("sslmode"), std::string::npos) << message;
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
    EXPECT_NE(message.find("password=***"), std::string::npos) << message;
    EXPECT_NE(message.find("application_name=probe7"), std::string::npos) << message;
    // An empty password is no secret to mask: the message stays as libpq wrote it.
    for (const std::string& uri :
         {"postgresql://authd:@" + server + "/db?sslmode=sometimes",
          "postgresql://authd@" + server + "/db?password=&sslmode=sometimes"}) {
        SCOPED_TRACE(uri);
        const std::string refused = open_error(uri);
        EXPECT_NE(refused.find("invalid sslmode value: \"sometimes\""), std::string::npos)
            << refused;
    }
}

TEST_F(PgStore, WrongPasswordRefused) {
    for (const std::string password : {"wrong-secret", "authd_pw_secretX", "p%40ss%3Aword"}) {
        SCOPED_TRACE(password);
        const std::string message = open_error(address_.uri(db_->name(), "authd_pw", password));
        EXPECT_NE(message.find("password authentication failed for user \"authd_pw\""),
                  std::string::npos)
            << message;
        EXPECT_EQ(message.find(password), std::string::npos) << message;
        EXPECT_EQ(message.find("p@ss:word"), std::string::npos) << message;
    }
}

TEST_F(PgStore, RightPasswordAccepted) {
    raw().exec("GRANT CREATE ON SCHEMA public TO authd_pw");
    auto store = open_store(address_.uri(db_->name(), "authd_pw", "authd_pw_secret"));
    EXPECT_TRUE(store->users().add_user("alice", "a"));
}

TEST_F(PgStore, UnknownDatabaseRefused) {
    const std::string message = open_error(address_.uri("no_such_database"));
    EXPECT_NE(message.find("database \"no_such_database\" does not exist"), std::string::npos)
        << message;
}

TEST_F(PgStore, UnreachableServerIsUnavailable) {
    // A port nothing listens on (the cluster's own port, on a loopback address it does not use).
    const auto start = steady::now();
    EXPECT_THROW(open_store("postgresql://authd@127.0.0.2:" + address_.port + "/x"),
                 store_unavailable);
    EXPECT_LT(steady::now() - start, 3s);
}

// --- the server going away -----------------------------------------------------------------

// A cluster of the test's own, since it is stopped and started again.
class private_cluster {
  public:
    private_cluster() {
        std::string dir = "/tmp/authd-pg-private-XXXXXX";
        if (mkdtemp(dir.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        dir_ = dir;
        run("start");
        std::ifstream in(dir_ + "/uri");
        std::getline(in, uri_);
    }
    ~private_cluster() {
        try {
            run("remove", false);
        } catch (...) {
            // Left behind in /tmp: scripts/pg-cluster.sh remove DIR cleans it up.
        }
    }
    private_cluster(const private_cluster&) = delete;
    private_cluster& operator=(const private_cluster&) = delete;

    const std::string& uri() const noexcept { return uri_; }
    std::string data_dir() const { return dir_ + "/data"; }
    void stop() { run("stop"); }
    void start() { run("start"); }

  private:
    void run(const std::string& command, bool check = true) const {
        const std::string line =
            std::string(AUTHD_PG_CLUSTER_SCRIPT) + " " + command + " " + dir_ + " >/dev/null";
        if (std::system(line.c_str()) != 0 && check) {
            throw std::runtime_error(line + " failed");
        }
    }

    std::string dir_;
    std::string uri_;
};

// While the server is down every call fails at once with store_unavailable (authd answers 503
// without piling up); once it is back, the store serves again within 5 s by itself, and the feed,
// having reconnected, drops the cache.
TEST(PgStoreOutage, UnavailableWhileDownThenRecovers) {
    if (!base_uri()) {
        GTEST_SKIP() << skip_message;
    }
    private_cluster cluster;
    auto store = open_store(cluster.uri());
    ASSERT_TRUE(store->users().add_user("alice", "a"));
    recorder heard;
    store->set_change_listener(&heard);

    cluster.stop();
    EXPECT_THROW(store->users().find_hash("alice"), store_unavailable);
    const auto start = steady::now();
    for (int i = 0; i < 200; ++i) {
        EXPECT_THROW(store->users().find_hash("alice"), store_unavailable);
        EXPECT_THROW(store->users().set_hash("alice", "b"), store_unavailable);
    }
    EXPECT_LT(steady::now() - start, 500ms) << "400 calls while down should fail at once";
    EXPECT_EQ(heard.all(), 0) << "the cache must survive the outage";

    cluster.start();
    const auto back = steady::now();
    std::optional<std::string> found;
    while (!found && steady::now() - back < 6s) {
        try {
            found = store->users().find_hash("alice");
        } catch (const store_unavailable&) {
            std::this_thread::sleep_for(20ms);
        }
    }
    EXPECT_EQ(found, "a");
    EXPECT_LT(steady::now() - back, 5s);
    EXPECT_TRUE(heard.wait_for_all(5s));
    auto other = open_store(cluster.uri());
    ASSERT_TRUE(other->users().set_hash("alice", "c"));
    EXPECT_TRUE(heard.wait_for_name("alice", 1s));
    store->set_change_listener(nullptr);
}

// A server that stops answering with its connections open (a hung host): the call in flight
// fails at its deadline (3 s) as unavailable, the calls after it fail at once while it stays so,
// and the store serves again once the server answers.
TEST(PgStoreOutage, AServerThatStopsAnsweringFailsACallAtItsDeadlineThenAtOnce) {
    if (!base_uri()) {
        GTEST_SKIP() << skip_message;
    }
    private_cluster cluster;
    auto store = open_store(cluster.uri());
    ASSERT_TRUE(store->users().add_user("alice", "a"));
    const auto pids = cluster_processes(cluster.data_dir());
    ASSERT_GT(pids.size(), 1U);
    for (const auto pid : pids) {
        ::kill(pid, SIGSTOP);
    }
    const auto start = steady::now();
    EXPECT_THROW(store->users().find_hash("alice"), store_unavailable);
    const auto first = steady::now() - start;
    const auto after = steady::now();
    for (int i = 0; i < 20; ++i) {
        EXPECT_THROW(store->users().find_hash("alice"), store_unavailable);
        EXPECT_THROW(store->users().set_hash("alice", "b"), store_unavailable);
    }
    const auto rest = steady::now() - after;
    for (const auto pid : pids) {
        ::kill(pid, SIGCONT);
    }
    EXPECT_GE(first, 2500ms) << "the deadline is 3 s";
    EXPECT_LT(first, 10s) << "the call outlived its deadline";
    EXPECT_LT(rest, 1s) << "40 calls while it hangs should fail at once, not wait again";
    std::optional<std::string> found;
    const auto back = steady::now();
    while (!found && steady::now() - back < 10s) {
        try {
            found = store->users().find_hash("alice");
        } catch (const store_unavailable&) {
            std::this_thread::sleep_for(50ms);
        }
    }
    EXPECT_EQ(found, "a");
}

}  // namespace
