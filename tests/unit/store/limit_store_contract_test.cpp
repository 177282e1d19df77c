// The contract of limit_store (authd/store/limit_store.hpp) that every backend keeps, run against
// each: SQLite (the counters' file beside a store in a temporary directory) and PostgreSQL (a
// database of the test's own; skipped without AUTHD_TEST_PG_URI). Two store objects on the same
// data stand for two nodes, or for authd before and after a restart.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "authd/login/attempt_limiter.hpp"
#include "authd/store/limit_store.hpp"
#include "authd/store/user_store.hpp"

#include "support/store_backends.hpp"

namespace {

using namespace std::chrono_literals;
using authd::limit_budget;
using authd::limit_store;
using authd::limiter_config;
using authd_test_support::postgres_backend;
using authd_test_support::sqlite_backend;

limiter_config config() {
    limiter_config c;
    c.account = {3, 1s, 60s, 60s};  // 3 free failures; the 4th waits 1 s
    c.address = {5, 1s, 60s, 60s};
    return c;
}

authd::account_digest account(std::string_view name) {
    return authd::account_digest::of(name);
}

const std::uint64_t addr_a = authd::address_key(0x0a000001U);
const std::uint64_t addr_b = authd::address_key(0x0a000002U);

std::uint64_t next_attempt() {
    static std::atomic<std::uint64_t> n{1};
    return n++;
}

// The arithmetic every counting place shares (limit_store.hpp): one failure forgiven per
// forgive_every, never below zero; a count updated "after" now (another node's clock ahead of
// this one's, or this clock stepped back) is forgiven nothing, and grows by nothing either.
TEST(LimitArithmetic, ForgivenessIsPerElapsedTimeAndATimeAheadChangesNothing) {
    const authd::limit_policy p{3, 1s, 60s, 2s};
    EXPECT_DOUBLE_EQ(authd::forgiven_failures(3, 0, p), 3);
    EXPECT_DOUBLE_EQ(authd::forgiven_failures(3, 3, p), 1.5);
    EXPECT_DOUBLE_EQ(authd::forgiven_failures(3, 60, p), 0);
    EXPECT_DOUBLE_EQ(authd::forgiven_failures(3, -10, p), 3);
    auto never = p;
    never.forgive_every = 0s;
    EXPECT_DOUBLE_EQ(authd::forgiven_failures(3, 60, never), 3);
}

template <typename Backend>
class LimitStoreContract : public ::testing::Test {
  protected:
    void SetUp() override {
        if (const auto reason = Backend::skip_reason()) {
            GTEST_SKIP() << *reason;
        }
        backend_.emplace();
        store_ = backend_->open();
        limits_ = store_->limits();
        ASSERT_NE(limits_, nullptr);
    }

    authd::limit_verdict admit(const std::string& name, std::uint64_t address,
                               limit_store* on = nullptr) {
        return (on != nullptr ? on : limits_)
            ->admit(account(name), address, config_, next_attempt());
    }

    // Each budget forgives at its own pace, and pruning reads each row by its own: after 1.5 s, the
    // row of the budget that forgives one failure a second is gone, and the other one's failure,
    // which the faster pace would have forgiven, is still counted.
    void expect_pruning_at_each_budgets_pace(bool account_faster) {
        auto c = config_;
        c.account = {3, 1s, 60s, account_faster ? 1s : 60s};
        c.address = {5, 1s, 60s, account_faster ? 60s : 1s};
        c.known_address_window = 0s;
        ASSERT_EQ(limits_->admit(account("one"), addr_a, c, next_attempt()).wait, 0U);
        EXPECT_EQ(backend_->counter_rows("limit_counters"), 2);
        std::this_thread::sleep_for(1500ms);
        limits_->prune(c);
        EXPECT_EQ(backend_->counter_rows("limit_counters"), 1);
        if (account_faster) {
            EXPECT_NEAR(limits_->admit(account("two"), addr_a, c, next_attempt()).address.failures,
                        2, 0.1)
                << "the address's failure is still counted";
        } else {
            EXPECT_NEAR(limits_->admit(account("one"), addr_b, c, next_attempt()).account.failures,
                        2, 0.1)
                << "the account's failure is still counted";
        }
    }

    std::optional<Backend> backend_;
    std::unique_ptr<authd::store_backend> store_;
    limit_store* limits_ = nullptr;
    limiter_config config_ = config();
};

using backends = ::testing::Types<sqlite_backend, postgres_backend>;
TYPED_TEST_SUITE(LimitStoreContract, backends);

TYPED_TEST(LimitStoreContract, TheFreeFailuresAndOneMoreAreAdmittedThenTheAccountWaits) {
    for (int i = 0; i < 4; ++i) {
        const auto v = this->admit("alice", addr_a);
        EXPECT_EQ(v.wait, 0U) << i;
        EXPECT_NEAR(v.account.failures, i + 1, 0.01) << "counted when admitted";
    }
    const auto refused = this->admit("alice", addr_a);
    EXPECT_EQ(refused.wait, 1U);
    EXPECT_EQ(refused.refused_by, limit_budget::account);
    EXPECT_GT(refused.account.blocked_seconds, 0.5);
    // Another account from another address is not concerned.
    EXPECT_EQ(this->admit("bob", addr_b).wait, 0U);
}

// The wait doubles with each failure past the free ones, from each budget's own first wait, up to
// its own longest: failures merged into fresh rows (a merge sets the wait a count that high sets).
TYPED_TEST(LimitStoreContract, TheWaitDoublesPerFailureUpToTheLongestOfItsBudget) {
    auto c = this->config_;
    c.account = {3, 1s, 60s, 3600s};
    c.address = {5, 2s, 30s, 3600s};
    c.known_address_window = 0s;
    const std::pair<double, std::uint32_t> account_waits[] = {
        {3.5, 1}, {4, 1}, {5, 2}, {6, 4}, {8, 16}, {9, 32}, {10, 60}, {40, 60}, {500, 60}};
    for (const auto& [failures, wait] : account_waits) {
        const auto name = "a" + std::to_string(failures);
        this->limits_->merge({{limit_budget::account, account(name), 0, failures}}, c);
        const auto v = this->limits_->admit(account(name), addr_a, c, next_attempt());
        EXPECT_EQ(v.wait, wait) << failures << " failures";
        EXPECT_EQ(v.refused_by, limit_budget::account) << failures;
    }
    const std::pair<double, std::uint32_t> address_waits[] = {{6, 2},  {7, 4},   {8, 8},
                                                              {9, 16}, {10, 30}, {100, 30}};
    std::uint32_t n = 0;
    for (const auto& [failures, wait] : address_waits) {
        const auto address = authd::address_key(0x0d000000U + n++);
        this->limits_->merge({{limit_budget::address, {}, address, failures}}, c);
        const auto v = this->limits_->admit(account("someone"), address, c, next_attempt());
        EXPECT_EQ(v.wait, wait) << failures << " failures";
        EXPECT_EQ(v.refused_by, limit_budget::address) << failures;
    }
    // Admissions count the same way: the 5th and 6th of an account wait 1 s, then 2 s.
    c.address.free_failures = 0;
    for (int i = 0; i < 4; ++i) {
        ASSERT_EQ(this->limits_->admit(account("counted"), addr_a, c, next_attempt()).wait, 0U);
    }
    EXPECT_EQ(this->limits_->admit(account("counted"), addr_a, c, next_attempt()).wait, 1U);
}

TYPED_TEST(LimitStoreContract, TheAddressBudgetRefusesAcrossAccounts) {
    for (int i = 0; i < 6; ++i) {
        EXPECT_EQ(this->admit("user" + std::to_string(i), addr_a).wait, 0U) << i;
    }
    const auto refused = this->admit("user9", addr_a);
    EXPECT_GT(refused.wait, 0U);
    EXPECT_EQ(refused.refused_by, limit_budget::address);
}

// Two "nodes" (store objects), four threads each, forty attempts at once: exactly as many are
// admitted as one after the other would be.
TYPED_TEST(LimitStoreContract, SimultaneousAttemptsOnTwoNodesAreAdmittedAsIfSequential) {
    auto other = this->backend_->open();
    std::vector<limit_store*> nodes{this->limits_, other->limits()};
    std::atomic<int> admitted{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 5; ++i) {
                try {
                    const auto v = nodes[static_cast<std::size_t>(t % 2)]->admit(
                        account("alice"),
                        authd::address_key(static_cast<std::uint32_t>(0x0b000000 + t)), config(),
                        next_attempt());
                    admitted += v.wait == 0 ? 1 : 0;
                } catch (const std::exception&) {
                    ++failed;
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(admitted.load(), 4);
}

TYPED_TEST(LimitStoreContract, ASuccessClearsItsBudgetAndMakesTheAddressKnown) {
    for (int i = 0; i < 2; ++i) {
        ASSERT_EQ(this->admit("alice", addr_a).wait, 0U);
    }
    const auto id = next_attempt();
    ASSERT_EQ(this->limits_->admit(account("alice"), addr_a, this->config_, id).wait, 0U);
    const auto after = this->limits_->succeed(account("alice"), addr_a, false, this->config_, id);
    EXPECT_NEAR(after.address.failures, 2, 0.01) << "the success's own count is taken back";
    EXPECT_EQ(after.address.blocked_seconds, 0) << "not waiting: 0, not a time in the past";
    // The account's shared budget is clear again; addr_a is known now.
    const auto elsewhere = this->admit("alice", addr_b);
    EXPECT_FALSE(elsewhere.known);
    EXPECT_FALSE(this->admit("bob", addr_a).known) << "addr_a is alice's, not every account's";
    EXPECT_NEAR(elsewhere.account.failures, 1, 0.01);
    const auto home = this->admit("alice", addr_a);
    EXPECT_TRUE(home.known);
    EXPECT_NEAR(home.account.failures, 1, 0.01) << "the known address's own budget";
    const auto listed = this->limits_->known_addresses(this->config_);
    ASSERT_EQ(listed.size(), 1U);
    EXPECT_EQ(listed[0].account, account("alice"));
    EXPECT_EQ(listed[0].address, addr_a);
    EXPECT_LT(listed[0].age_seconds, 60);
}

// Every address of ::/64, the IPv6 loopback ::1 among them, is keyed 0: the address an account's
// shared budget is stored under. The budgets are still rows of their own, so a success that clears
// the account's shared budget leaves the owner's budget at ::1 as it was.
TYPED_TEST(LimitStoreContract, TheBudgetAtAnAddressKeyedZeroIsNotTheAccountsShared) {
    std::array<unsigned char, 16> loopback{};
    loopback[15] = 1;
    const auto home = authd::address_key(loopback);
    ASSERT_EQ(home, 0U);
    const auto first = next_attempt();
    ASSERT_EQ(this->limits_->admit(account("alice"), home, this->config_, first).wait, 0U);
    this->limits_->succeed(account("alice"), home, false, this->config_, first);
    for (int i = 0; i < 2; ++i) {
        ASSERT_TRUE(this->admit("alice", home).known) << i;
    }
    const auto elsewhere = next_attempt();
    const auto v = this->limits_->admit(account("alice"), addr_b, this->config_, elsewhere);
    ASSERT_FALSE(v.known);
    this->limits_->succeed(account("alice"), addr_b, false, this->config_, elsewhere);
    const auto again = this->admit("alice", home);
    EXPECT_TRUE(again.known);
    EXPECT_NEAR(again.account.failures, 3, 0.01) << "the failures at ::1 are its own budget's";
}

// A success clears the budget its attempt was counted in, and no other: with the account's budget
// off (no attempt counted in it), the counts it holds from before are left as they are.
TYPED_TEST(LimitStoreContract, ASuccessWithoutTheAccountBudgetLeavesItsCountsAlone) {
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(this->admit("alice", addr_a).wait, 0U);
    }
    auto off = this->config_;
    off.account.free_failures = 0;
    const auto id = next_attempt();
    ASSERT_EQ(this->limits_->admit(account("alice"), addr_a, off, id).wait, 0U);
    this->limits_->succeed(account("alice"), addr_a, false, off, id);
    EXPECT_NEAR(this->admit("alice", addr_b).account.failures, 4, 0.01)
        << "the account's three failures and this one";
}

// Both stores record a known address's success again only once the recorded one is older than
// known_address_refresh: the owner's frequent logins write no row of it (and PostgreSQL's nodes
// hear no change feed per login), and the two backends forget an address alike.
TYPED_TEST(LimitStoreContract, ASuccessWithinTheRefreshKeepsTheRecordedOne) {
    for (int i = 0; i < 2; ++i) {
        const auto id = next_attempt();
        const auto v = this->limits_->admit(account("alice"), addr_a, this->config_, id);
        ASSERT_EQ(v.wait, 0U);
        EXPECT_EQ(v.known, i == 1);
        this->limits_->succeed(account("alice"), addr_a, v.known, this->config_, id);
        if (i == 0) {
            std::this_thread::sleep_for(1100ms);
        }
    }
    const auto listed = this->limits_->known_addresses(this->config_);
    ASSERT_EQ(listed.size(), 1U);
    EXPECT_GE(listed[0].age_seconds, 1.0) << "the first success is the one recorded";
    EXPECT_LT(listed[0].age_seconds, 60);
}

TYPED_TEST(LimitStoreContract, FailuresElsewhereNeverMakeAKnownAddressWait) {
    const auto id = next_attempt();
    ASSERT_EQ(this->limits_->admit(account("alice"), addr_a, this->config_, id).wait, 0U);
    this->limits_->succeed(account("alice"), addr_a, false, this->config_, id);
    auto c = this->config_;
    c.address.free_failures = 0;  // only the account's budgets
    for (int i = 0; i < 4; ++i) {
        ASSERT_EQ(this->limits_->admit(account("alice"), addr_b, c, next_attempt()).wait, 0U);
    }
    EXPECT_EQ(this->limits_->admit(account("alice"), addr_b, c, next_attempt()).refused_by,
              limit_budget::account);
    // The owner at addr_a has its own budget, and its failures stay in it.
    for (int i = 0; i < 4; ++i) {
        const auto v = this->limits_->admit(account("alice"), addr_a, c, next_attempt());
        EXPECT_EQ(v.wait, 0U) << i;
        EXPECT_TRUE(v.known);
    }
    EXPECT_EQ(this->limits_->admit(account("alice"), addr_a, c, next_attempt()).refused_by,
              limit_budget::known_address);
    // With the window off, addr_a is an address like any other.
    c.known_address_window = 0s;
    EXPECT_EQ(this->limits_->admit(account("alice"), addr_a, c, next_attempt()).refused_by,
              limit_budget::account);
}

TYPED_TEST(LimitStoreContract, AReleaseTakesBackItsCountAndItsWait) {
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(this->admit("alice", addr_a).wait, 0U);
    }
    const auto id = next_attempt();
    ASSERT_EQ(this->limits_->admit(account("alice"), addr_a, this->config_, id).wait, 0U);
    ASSERT_GT(this->admit("alice", addr_a).wait, 0U) << "the 4th count set a wait";
    for (int i = 0; i < 2; ++i) {
        ASSERT_EQ(this->admit("bob", addr_b).wait, 0U);
    }
    this->limits_->release(account("alice"), addr_a, false, this->config_, id);
    const auto v = this->admit("alice", addr_a);
    EXPECT_EQ(v.wait, 0U) << "the wait was the released attempt's";
    EXPECT_NEAR(v.account.failures, 4, 0.01);
    EXPECT_NEAR(this->admit("bob", addr_b).account.failures, 3, 0.01)
        << "only alice's count is taken back";
}

// A budget turned off (no free failures: the operator's 0) refuses nothing, not even an account
// or an address that waits under it from before it was turned off.
TYPED_TEST(LimitStoreContract, ABudgetTurnedOffRefusesNothingItCountedBefore) {
    auto strict = this->config_;
    strict.account = {1, 60s, 60s, 60s};
    strict.address = {1, 60s, 60s, 60s};
    strict.known_address_window = 0s;
    for (int i = 0; i < 2; ++i) {
        ASSERT_EQ(this->limits_->admit(account("alice"), addr_a, strict, next_attempt()).wait, 0U);
    }
    ASSERT_GT(this->limits_->admit(account("alice"), addr_b, strict, next_attempt()).wait, 0U)
        << "alice waits";
    ASSERT_GT(this->limits_->admit(account("bob"), addr_a, strict, next_attempt()).wait, 0U)
        << "addr_a waits";
    auto account_off = strict;
    account_off.account.free_failures = 0;
    const auto alice = this->limits_->admit(account("alice"), addr_b, account_off, next_attempt());
    EXPECT_EQ(alice.wait, 0U);
    EXPECT_EQ(alice.refused_by, limit_budget::none);
    auto address_off = strict;
    address_off.address.free_failures = 0;
    const auto bob = this->limits_->admit(account("bob"), addr_a, address_off, next_attempt());
    EXPECT_EQ(bob.wait, 0U);
    EXPECT_EQ(bob.refused_by, limit_budget::none);
}

// A row that once had to wait is pruned like any other once its wait has passed and its
// failures are forgiven.
TYPED_TEST(LimitStoreContract, PruningForgetsARowWhoseWaitHasPassed) {
    auto c = this->config_;
    c.account = {1, 1s, 60s, 1s};  // the 2nd failure waits 1 s; one forgiven a second
    c.address.free_failures = 0;
    c.known_address_window = 0s;
    for (int i = 0; i < 2; ++i) {
        ASSERT_EQ(this->limits_->admit(account("waits"), addr_a, c, next_attempt()).wait, 0U);
    }
    ASSERT_GT(this->limits_->admit(account("waits"), addr_a, c, next_attempt()).wait, 0U);
    this->limits_->prune(c);
    EXPECT_EQ(this->backend_->counter_rows("limit_counters"), 1) << "it still waits";
    std::this_thread::sleep_for(2500ms);  // the wait over, both failures forgiven
    this->limits_->prune(c);
    EXPECT_EQ(this->backend_->counter_rows("limit_counters"), 0);
}

// A count taken back after time forgave it leaves no debt: the failures never go below zero, so
// the next attempts get the free failures and no more (a count of -1 would be one guess more).
TYPED_TEST(LimitStoreContract, ACountTakenBackAfterForgivenessLeavesNoDebt) {
    auto c = this->config_;
    c.account = {3, 1s, 60s, 1s};  // one failure forgiven a second
    c.address.free_failures = 0;
    const auto id = next_attempt();
    ASSERT_EQ(this->limits_->admit(account("alice"), addr_a, c, id).wait, 0U);
    std::this_thread::sleep_for(1500ms);  // forgiven by now
    this->limits_->release(account("alice"), addr_a, false, c, id);
    // Forgiveness turned off (an operator's new setting): what is stored is what counts.
    c.account.forgive_every = 0s;
    int admitted = 0;
    for (int i = 0; i < 10; ++i) {
        if (this->limits_->admit(account("alice"), addr_a, c, next_attempt()).wait > 0) {
            break;
        }
        ++admitted;
    }
    EXPECT_EQ(admitted, 4) << "the free failures and one more, as for a fresh account";
}

TYPED_TEST(LimitStoreContract, MergedFailuresCount) {
    this->limits_->merge({{limit_budget::account, account("alice"), 0, 4}}, this->config_);
    const auto v = this->admit("alice", addr_a);
    EXPECT_GT(v.wait, 0U);
    EXPECT_EQ(v.refused_by, limit_budget::account);
    this->limits_->merge({{limit_budget::address, {}, addr_b, 6}}, this->config_);
    EXPECT_EQ(this->admit("bob", addr_b).refused_by, limit_budget::address);
}

// Merges from two nodes at once over the same rows never deadlock: each takes its rows' locks in
// one order (kind, account, address), whatever order the counts come in or their sizes. Here
// two threads on each node merge the same eight address rows, their failures rising on one node
// and falling on the other (an order by anything but the key would lock them in opposite orders),
// 150 times each.
TYPED_TEST(LimitStoreContract, ConcurrentMergesOverTheSameRowsNeverDeadlock) {
    auto other = this->backend_->open();
    std::vector<limit_store*> nodes{this->limits_, other->limits()};
    auto c = this->config_;
    c.address = {1000000, 1s, 60s, 60s};
    std::atomic<int> failed{0};
    std::string error;
    std::mutex error_mutex;
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            std::vector<authd::unshared_count> counts;
            for (int i = 0; i < 8; ++i) {
                const auto address = authd::address_key(static_cast<std::uint32_t>(0x0c000000 + i));
                counts.push_back(
                    {limit_budget::address, {}, address, t % 2 == 0 ? i + 1.0 : 8.0 - i});
            }
            for (int round = 0; round < 150; ++round) {
                try {
                    nodes[t % 2]->merge(counts, c);
                } catch (const std::exception& e) {
                    ++failed;
                    const std::lock_guard lock(error_mutex);
                    error = e.what();
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(failed.load(), 0) << error;
}

// One call merges many counts of every kind (one transaction), each into its own row.
// A merge adds failures and may make a wait longer, never shorter: a wait set before it, longer
// than what the (partly forgiven) count would set now, still holds.
TYPED_TEST(LimitStoreContract, AMergeNeverShortensAWait) {
    auto c = this->config_;
    c.account = {3, 1s, 60s, 1s};  // one failure forgiven a second
    this->limits_->merge({{limit_budget::account, account("alice"), 0, 10}}, c);  // waits 60 s
    std::this_thread::sleep_for(2s);  // 2 failures forgiven: 9 after the next merge, 32 s
    this->limits_->merge({{limit_budget::account, account("alice"), 0, 1}}, c);
    const auto v = this->limits_->admit(account("alice"), addr_a, c, next_attempt());
    EXPECT_EQ(v.refused_by, limit_budget::account);
    EXPECT_GT(v.wait, 50U) << "the first merge's wait of 60 s holds";
}

TYPED_TEST(LimitStoreContract, AMergeOfManyCountsAddsEachToItsOwnRow) {
    this->limits_->merge({{limit_budget::account, account("alice"), 0, 2},
                          {limit_budget::address, {}, addr_b, 3},
                          {limit_budget::account, account("bob"), 0, 1},
                          {limit_budget::address, {}, addr_a, 1}},
                         this->config_);
    auto c = this->config_;
    c.known_address_window = 0s;
    const auto alice = this->limits_->admit(account("alice"), addr_a, c, next_attempt());
    EXPECT_NEAR(alice.account.failures, 3, 0.01);
    EXPECT_NEAR(alice.address.failures, 2, 0.01);
    const auto bob = this->limits_->admit(account("bob"), addr_b, c, next_attempt());
    EXPECT_NEAR(bob.account.failures, 2, 0.01);
    EXPECT_NEAR(bob.address.failures, 4, 0.01);
}

// Issue 29, finding 1: whatever bytes a User-Name holds (not UTF-8, a NUL, 3,000 of them: what
// PostgreSQL cannot take as text), an attempt on it is counted by the store like any other, and
// seen by another node; the limiter never falls back to counting alone.
TYPED_TEST(LimitStoreContract, AnAttemptOnAnyNameIsCountedByTheStore) {
    authd::attempt_limiter limiter(this->config_, this->limits_);
    const auto now = authd::attempt_limiter::clock::now();
    const std::vector<std::string> names{"\xff\xfe\x80user", std::string(3000, 'n'),
                                         std::string("a\0b", 3)};
    for (const auto& name : names) {
        for (int i = 0; i < 2; ++i) {
            const auto a = limiter.admit(authd::account_digest::of(name), addr_a, now);
            ASSERT_EQ(a.wait, 0U) << name.size();
            EXPECT_TRUE(a.by_store) << name.size();
            limiter.settle(authd::account_digest::of(name), addr_a, a,
                           authd::attempt_limiter::outcome::failure, now);
        }
    }
    EXPECT_EQ(limiter.sharing(), this->limits_->shared());
    EXPECT_EQ(limiter.local_admissions(), 0U);
    auto other = this->backend_->open();
    auto c = this->config_;
    c.address.free_failures = 100;
    for (const auto& name : names) {
        const auto v = other->limits()->admit(account(name), addr_b, c, next_attempt());
        EXPECT_NEAR(v.account.failures, 3, 0.01) << name.size();
    }
}

// authd restarted (or crashed: the counts are committed before the hash starts) finds them.
TYPED_TEST(LimitStoreContract, CountsOutliveTheProcessThatMadeThem) {
    for (int i = 0; i < 4; ++i) {
        ASSERT_EQ(this->admit("alice", addr_a).wait, 0U);
    }
    this->store_.reset();
    auto again = this->backend_->open();
    const auto v = this->admit("alice", addr_a, again->limits());
    EXPECT_GT(v.wait, 0U);
    EXPECT_NEAR(v.account.failures, 4, 0.01);
}

// Keeping each account's most recent known addresses trims that account's alone, whichever
// account's are older or newer.
TYPED_TEST(LimitStoreContract, TrimmingAnAccountsKnownAddressesLeavesTheOthers) {
    const auto succeed = [&](const std::string& name, std::uint32_t address) {
        const auto id = next_attempt();
        const auto key = authd::address_key(address);
        ASSERT_EQ(this->limits_->admit(account(name), key, this->config_, id).wait, 0U);
        this->limits_->succeed(account(name), key, false, this->config_, id);
        std::this_thread::sleep_for(2ms);  // distinct times
    };
    // alice's four are older than bob's five; carol's four older than dave's, then carol's fifth.
    for (std::uint32_t i = 0; i < 4; ++i) {
        succeed("alice", 0x0e000000U + i);
    }
    for (std::uint32_t i = 0; i < 5; ++i) {
        succeed("bob", 0x0e100000U + i);
    }
    for (std::uint32_t i = 0; i < 4; ++i) {
        succeed("carol", 0x0e200000U + i);
    }
    for (std::uint32_t i = 0; i < 4; ++i) {
        succeed("dave", 0x0e300000U + i);
    }
    succeed("carol", 0x0e200004U);
    std::map<std::string, std::vector<std::uint64_t>> kept;
    for (const auto& k : this->limits_->known_addresses(this->config_)) {
        for (const auto* name : {"alice", "bob", "carol", "dave"}) {
            if (k.account == account(name)) {
                kept[name].push_back(k.address);
            }
        }
    }
    const auto expect = [&](const std::string& name, std::uint32_t base, std::uint32_t from,
                            std::uint32_t to) {
        std::vector<std::uint64_t> want;
        for (auto i = from; i < to; ++i) {
            want.push_back(authd::address_key(base + i));
        }
        std::sort(want.begin(), want.end());
        std::sort(kept[name].begin(), kept[name].end());
        EXPECT_EQ(kept[name], want) << name;
    };
    expect("alice", 0x0e000000U, 0, 4);
    expect("bob", 0x0e100000U, 1, 5);
    expect("carol", 0x0e200000U, 1, 5);
    expect("dave", 0x0e300000U, 0, 4);
}

// Pruning forgets the rows with nothing left to count (no wait, every failure forgiven) and keeps
// every other one.
TYPED_TEST(LimitStoreContract, PruningForgetsOnlyRowsWithNothingLeftToCount) {
    using steady = std::chrono::steady_clock;
    const auto seconds_between = [](steady::time_point a, steady::time_point b) {
        return std::chrono::duration<double>(b - a).count();
    };
    auto c = this->config_;
    c.account = {3, 1s, 60s, 1s};  // one failure forgiven a second
    c.address.free_failures = 0;
    c.known_address_window = 0s;
    const auto one_at = steady::now();
    ASSERT_EQ(this->limits_->admit(account("one"), addr_a, c, next_attempt()).wait, 0U);
    const auto three_from = steady::now();
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(this->limits_->admit(account("three"), addr_a, c, next_attempt()).wait, 0U);
    }
    const auto three_to = steady::now();
    for (int i = 0; i < 4; ++i) {  // the 4th waits 1 s
        ASSERT_EQ(this->limits_->admit(account("waits"), addr_a, c, next_attempt()).wait, 0U);
    }
    this->limits_->prune(c);
    // (Each check is made where the clock allows no other answer: a loaded machine may take
    // long enough between two steps for a count to be forgiven.)
    if (seconds_between(one_at, steady::now()) < 0.9) {
        EXPECT_EQ(this->backend_->counter_rows("limit_counters"), 3) << "nothing is forgiven yet";
    }
    std::this_thread::sleep_for(1500ms);  // "one" forgiven; "three" not; "waits" not
    this->limits_->prune(c);
    if (seconds_between(three_from, steady::now()) < 2.9) {
        EXPECT_EQ(this->backend_->counter_rows("limit_counters"), 2);
    }
    const auto before = steady::now();
    const auto three =
        this->limits_->admit(account("three"), addr_a, c, next_attempt()).account.failures;
    const auto after = steady::now();
    // Its 3 failures less what the time since its last one forgave, and this one; a row pruned
    // too early would count from 1.
    EXPECT_GE(three, std::max(1.0, 4 - seconds_between(three_from, after)) - 0.05);
    EXPECT_LE(three, std::max(1.0, 4 - seconds_between(three_to, before)) + 0.05);
    EXPECT_GT(three, 1.0 + 1e-9) << "pruned too early";
}

// Each budget forgives at its own pace, and pruning reads each row by its own (the fixture's
// expect_pruning_at_each_budgets_pace).
TYPED_TEST(LimitStoreContract, PruningForgivesEachBudgetAtItsOwnPace) {
    this->expect_pruning_at_each_budgets_pace(true);
}

TYPED_TEST(LimitStoreContract, PruningForgivesTheAddressBudgetAtItsOwnPaceToo) {
    this->expect_pruning_at_each_budgets_pace(false);
}

// A known address is known within the window the admission asks about, and not past it: the
// owner's budget of an address last seen a week ago (with a window of a day) is the account's.
TYPED_TEST(LimitStoreContract, AKnownAddressIsKnownWithinItsWindowOnly) {
    const auto id = next_attempt();
    ASSERT_EQ(this->limits_->admit(account("alice"), addr_a, this->config_, id).wait, 0U);
    this->limits_->succeed(account("alice"), addr_a, false, this->config_, id);
    EXPECT_TRUE(this->admit("alice", addr_a).known);
    // Stores keep times in seconds: more than a second past a window of one, whatever the rounding.
    std::this_thread::sleep_for(2200ms);
    auto short_window = this->config_;
    short_window.known_address_window = 1s;
    EXPECT_FALSE(
        this->limits_->admit(account("alice"), addr_a, short_window, next_attempt()).known);
    EXPECT_TRUE(this->admit("alice", addr_a).known) << "within the configured window still";
}

// A wait that has passed is no wait: the store says 0 seconds left (counter_view), not how long
// ago it ended, for the account's budget and the address's alike.
TYPED_TEST(LimitStoreContract, AWaitThatHasPassedLeavesNoSecondsToWait) {
    auto c = this->config_;
    c.account = {3, 1s, 60s, 1s};  // one failure forgiven a second
    c.address = {3, 1s, 60s, 1s};
    c.known_address_window = 0s;
    for (int i = 0; i < 4; ++i) {  // the 4th sets a wait of 1 s in both budgets
        ASSERT_EQ(this->limits_->admit(account("alice"), addr_a, c, next_attempt()).wait, 0U);
    }
    // The wait over, at least 2.5 failures forgiven: this attempt counts no more than 2.5 and so
    // sets no new wait (however much longer the sleep takes).
    std::this_thread::sleep_for(2500ms);
    const auto v = this->limits_->admit(account("alice"), addr_a, c, next_attempt());
    ASSERT_EQ(v.wait, 0U);
    ASSERT_LE(v.account.failures, 2.6);
    EXPECT_EQ(v.account.blocked_seconds, 0);
    EXPECT_EQ(v.address.blocked_seconds, 0);
}

// Known addresses exist for the account's budget and within their window: with either off, a
// success records none.
TYPED_TEST(LimitStoreContract, WithoutTheAccountBudgetOrTheWindowASuccessRecordsNoKnownAddress) {
    auto no_budget = this->config_;
    no_budget.account.free_failures = 0;
    auto no_window = this->config_;
    no_window.known_address_window = 0s;
    for (const auto& c : {no_budget, no_window}) {
        const auto id = next_attempt();
        ASSERT_EQ(this->limits_->admit(account("alice"), addr_a, c, id).wait, 0U);
        this->limits_->succeed(account("alice"), addr_a, false, c, id);
        EXPECT_EQ(this->backend_->counter_rows("known_addresses"), 0);
    }
}

TYPED_TEST(LimitStoreContract, EachAccountKeepsItsMostRecentKnownAddresses) {
    for (std::uint32_t i = 0; i < 6; ++i) {
        const auto id = next_attempt();
        const auto address = authd::address_key(0x0c000000U + i);
        ASSERT_EQ(this->limits_->admit(account("alice"), address, this->config_, id).wait, 0U);
        this->limits_->succeed(account("alice"), address, false, this->config_, id);
        std::this_thread::sleep_for(2ms);  // distinct times: "most recent" is well defined
    }
    auto listed = this->limits_->known_addresses(this->config_);
    ASSERT_EQ(listed.size(), this->config_.known_addresses_per_account);
    std::vector<std::uint64_t> addresses;
    for (const auto& k : listed) {
        addresses.push_back(k.address);
    }
    std::sort(addresses.begin(), addresses.end());
    for (std::uint32_t i = 2; i < 6; ++i) {
        EXPECT_TRUE(std::binary_search(addresses.begin(), addresses.end(),
                                       authd::address_key(0x0c000000U + i)))
            << i;
    }
}

}  // namespace
