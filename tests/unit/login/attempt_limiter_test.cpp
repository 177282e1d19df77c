#include "authd/login/attempt_limiter.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace authd {
namespace {

using namespace std::chrono_literals;
using clock_type = attempt_limiter::clock;

limiter_config small_config() {
    limiter_config c;
    c.account = limit_policy{3, 1s, 60s, 10s};
    c.address = limit_policy{5, 2s, 300s, 10s};
    c.max_entries = 1000;
    c.known_address_window = 0s;  // the shared budgets alone (known addresses: below)
    return c;
}

// The calls as the tests before known addresses made them: every attempt in the account's
// shared budget.
std::uint32_t admit(attempt_limiter& limiter, std::string_view user, std::uint64_t address,
                    clock_type::time_point now) {
    return limiter.admit(account_digest::of(user), address, now).wait;
}
void settle(attempt_limiter& limiter, std::string_view user, std::uint64_t address,
            attempt_limiter::outcome result, clock_type::time_point now) {
    limiter.settle(account_digest::of(user), address, attempt_limiter::admission{}, result, now);
}
std::uint32_t retry(const attempt_limiter& limiter, std::string_view user, std::uint64_t address,
                    clock_type::time_point now) {
    return limiter.retry_after(account_digest::of(user), address, now).wait;
}

const std::uint64_t addr_a = address_key(0x7f000002U);
const std::uint64_t addr_b = address_key(0x7f000003U);

TEST(AttemptLimiter, FreeFailuresThenBackoffThatDoubles) {
    attempt_limiter limiter(small_config());
    const auto t0 = clock_type::now();
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(retry(limiter, "alice", addr_a, t0), 0U);
        limiter.record_failure(account_digest::of("alice"), addr_a, t0);
    }
    EXPECT_EQ(retry(limiter, "alice", addr_a, t0), 0U);               // three free failures
    limiter.record_failure(account_digest::of("alice"), addr_a, t0);  // the 4th: 1 s
    EXPECT_EQ(retry(limiter, "alice", addr_a, t0), 1U);
    limiter.record_failure(account_digest::of("alice"), addr_a, t0);  // the 5th: 2 s
    EXPECT_EQ(retry(limiter, "alice", addr_a, t0), 2U);
    limiter.record_failure(account_digest::of("alice"), addr_a,
                           t0);  // the 6th: 4 s, and the address is over too
    EXPECT_EQ(retry(limiter, "alice", addr_a, t0), 4U);
    EXPECT_EQ(retry(limiter, "alice", addr_a, t0 + 4s), 0U);  // the wait has passed
}

// The steady clock counts from boot: on a machine up for a second, the budget is the same as on
// one up for a year (nothing is forgiven from before the first failure).
TEST(AttemptLimiter, FreeFailuresAreExactOnAMachineJustBooted) {
    attempt_limiter limiter(small_config());
    const auto t0 = clock_type::time_point{} + 1s;
    for (int i = 0; i < 3; ++i) {
        limiter.record_failure(account_digest::of("alice"), addr_a, t0);
    }
    EXPECT_EQ(retry(limiter, "alice", addr_a, t0), 0U) << "three free failures";
    limiter.record_failure(account_digest::of("alice"), addr_a, t0);
    EXPECT_EQ(retry(limiter, "alice", addr_a, t0), 1U);
}

// A table smaller than its shards still gives each shard room for one entry: a few failures on
// one account evict nothing and are all counted.
TEST(AttemptLimiter, ATableSmallerThanItsShardsStillKeepsAnEntryPerShard) {
    auto config = small_config();
    config.max_entries = 4;  // fewer than the 16 shards
    attempt_limiter limiter(config);
    const auto t0 = clock_type::now();
    for (int i = 0; i < 4; ++i) {
        limiter.record_failure(account_digest::of("alice"), addr_a, t0);
    }
    EXPECT_EQ(retry(limiter, "alice", addr_a, t0), 1U);
    EXPECT_EQ(limiter.account_entries(), 1U);
    EXPECT_EQ(limiter.protected_evictions(), 0U) << "an eviction from an empty shard";
}

TEST(AttemptLimiter, BackoffIsCapped) {
    attempt_limiter limiter(small_config());
    const auto t0 = clock_type::now();
    for (int i = 0; i < 40; ++i) {
        limiter.record_failure(account_digest::of("alice"),
                               address_key(static_cast<std::uint32_t>(i)), t0);
    }
    EXPECT_EQ(retry(limiter, "alice", addr_b, t0), 60U);
}

TEST(AttemptLimiter, FailuresAreForgivenWithTime) {
    attempt_limiter limiter(small_config());
    const auto t0 = clock_type::now();
    for (int i = 0; i < 4; ++i) {
        limiter.record_failure(account_digest::of("alice"), addr_a, t0);
    }
    ASSERT_GT(retry(limiter, "alice", addr_a, t0), 0U);
    // 40 s later four failures are forgiven (one per 10 s): the next failure is free again.
    limiter.record_failure(account_digest::of("alice"), addr_a, t0 + 40s);
    EXPECT_EQ(retry(limiter, "alice", addr_a, t0 + 40s), 0U);
}

TEST(AttemptLimiter, SuccessClearsTheAccountButNotTheAddress) {
    attempt_limiter limiter(small_config());
    const auto t0 = clock_type::now();
    for (int i = 0; i < 4; ++i) {
        limiter.record_failure(account_digest::of("alice"), addr_a, t0);
    }
    limiter.record_success(account_digest::of("alice"), t0);
    EXPECT_EQ(retry(limiter, "alice", addr_b, t0), 0U);
    // The address had 4 failures of 5 free; two more block it for every account.
    limiter.record_failure(account_digest::of("bob"), addr_a, t0);
    limiter.record_failure(account_digest::of("bob"), addr_a, t0);
    EXPECT_EQ(retry(limiter, "carol", addr_a, t0), 2U);
    EXPECT_EQ(retry(limiter, "carol", addr_b, t0), 0U);
}

TEST(AttemptLimiter, AccountLimitHoldsAcrossAddresses) {
    attempt_limiter limiter(small_config());
    const auto t0 = clock_type::now();
    for (std::uint32_t i = 0; i < 4; ++i) {
        limiter.record_failure(account_digest::of("alice"), address_key(100 + i),
                               t0);  // a distributed guesser
    }
    EXPECT_EQ(retry(limiter, "alice", address_key(999), t0), 1U);
    EXPECT_EQ(retry(limiter, "bob", address_key(999), t0), 0U);
}

TEST(AttemptLimiter, MemoryIsBoundedUnderKeyCycling) {
    auto config = small_config();
    config.max_entries = 256;
    attempt_limiter limiter(config);
    const auto t0 = clock_type::now();
    for (std::uint32_t i = 0; i < 100'000; ++i) {
        limiter.record_failure(account_digest::of("user" + std::to_string(i)), address_key(i), t0);
    }
    EXPECT_LE(limiter.account_entries(), 256U);
    EXPECT_LE(limiter.address_entries(), 256U);
    EXPECT_GT(limiter.account_entries(), 0U);
}

TEST(AttemptLimiter, DisabledPolicyCountsNothing) {
    auto config = small_config();
    config.address.free_failures = 0;
    attempt_limiter limiter(config);
    const auto t0 = clock_type::now();
    for (int i = 0; i < 100; ++i) {
        limiter.record_failure(account_digest::of("user" + std::to_string(i)), addr_a, t0);
    }
    EXPECT_EQ(limiter.address_entries(), 0U);
    EXPECT_EQ(retry(limiter, "fresh", addr_a, t0), 0U);
}

// Issue #10, item 1: attempts that arrive together must not all pass the check that precedes
// their hashing. Admitted attempts count at once (a reservation): with 3 free failures, at most 4
// of 40 simultaneous attempts are admitted, exactly as many as one after the other.
TEST(AttemptLimiter, SimultaneousAttemptsAreAdmittedAsIfSequential) {
    attempt_limiter limiter(small_config());
    const auto t0 = clock_type::now();
    int admitted = 0;
    for (int i = 0; i < 40; ++i) {
        const auto wait =
            admit(limiter, "alice", address_key(static_cast<std::uint32_t>(100 + i)), t0);
        admitted += wait == 0 ? 1 : 0;
        if (wait != 0) {
            EXPECT_EQ(wait, 1U) << "in flight: their outcome is due shortly";
        }
    }
    EXPECT_EQ(admitted, 4);
    // The four fail: the 4th failure is past the free ones, so the account now waits 1 s.
    for (int i = 0; i < 4; ++i) {
        settle(limiter, "alice", address_key(static_cast<std::uint32_t>(100 + i)),
               attempt_limiter::outcome::failure, t0);
    }
    EXPECT_EQ(admit(limiter, "alice", addr_b, t0), 1U);
    // After the wait, one attempt at a time.
    EXPECT_EQ(admit(limiter, "alice", addr_b, t0 + 1s), 0U);
    EXPECT_EQ(admit(limiter, "alice", addr_b, t0 + 1s), 1U);
}

TEST(AttemptLimiter, TheAddressBudgetHoldsForSimultaneousAttemptsOnManyAccounts) {
    attempt_limiter limiter(small_config());  // 5 free failures per address
    const auto t0 = clock_type::now();
    int admitted = 0;
    for (int i = 0; i < 40; ++i) {
        admitted += admit(limiter, "user" + std::to_string(i), addr_a, t0) == 0 ? 1 : 0;
    }
    EXPECT_EQ(admitted, 6);
    // The refused ones made no account entries; the admitted ones hold one each.
    EXPECT_EQ(limiter.account_entries(), 6U);
}

TEST(AttemptLimiter, ASuccessOrAnAbandonedAttemptReleasesItsReservation) {
    attempt_limiter limiter(small_config());
    const auto t0 = clock_type::now();
    for (int i = 0; i < 4; ++i) {
        ASSERT_EQ(admit(limiter, "alice", addr_a, t0), 0U);
    }
    ASSERT_EQ(admit(limiter, "alice", addr_a, t0), 1U);
    settle(limiter, "alice", addr_a, attempt_limiter::outcome::abandoned, t0);  // a 500: no count
    EXPECT_EQ(admit(limiter, "alice", addr_a, t0), 0U);
    for (int i = 0; i < 4; ++i) {
        settle(limiter, "alice", addr_a, attempt_limiter::outcome::success, t0);
    }
    settle(limiter, "alice", addr_a, attempt_limiter::outcome::abandoned, t0);
    // Nothing is left to remember of the account; the address counted no failure either.
    EXPECT_EQ(limiter.account_entries(), 0U);
    EXPECT_EQ(limiter.address_entries(), 0U);
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(admit(limiter, "alice", addr_a, t0), 0U) << i;
    }
}

TEST(AttemptLimiter, AbandonedAttemptsNeverAddUpToAWait) {
    attempt_limiter limiter(small_config());  // 3 free failures per account
    const auto t0 = clock_type::now();
    for (int i = 0; i < 20; ++i) {  // store errors, shutdowns: each admitted, none decided
        ASSERT_EQ(admit(limiter, "alice", addr_a, t0), 0U) << i;
        settle(limiter, "alice", addr_a, attempt_limiter::outcome::abandoned, t0);
    }
    EXPECT_EQ(retry(limiter, "alice", addr_a, t0), 0U);
    EXPECT_EQ(limiter.account_entries(), 0U);
}

// Attempts refused because their address has its free failures in flight already make no
// account entry, and so evict none: a victim's partial count in a full table survives 200 of
// them. (Before, the account was reserved first, its entry made — evicting another — and then
// dropped when the address refused.) The addresses' table keys are not hashed (addr_a and
// addr_b sit in shards 2 and 3); the victim's account entry is made last, so whatever shard it
// is in, it is that shard's only entry.
TEST(AttemptLimiter, RefusedAttemptsEvictNothing) {
    auto config = small_config();  // 3 free per account, 5 per address
    config.max_entries = 16;       // one entry per shard
    attempt_limiter limiter(config);
    const auto t0 = clock_type::now();
    for (int i = 0; i < 5; ++i) {
        limiter.record_failure(account_digest::of("spray" + std::to_string(i)), addr_a, t0);
    }
    ASSERT_EQ(admit(limiter, "spray-in-flight", addr_a, t0), 0U);  // the 6th, in flight
    const auto t1 = t0 + 1ms;
    limiter.record_failure(account_digest::of("victim"), addr_b, t1);
    limiter.record_failure(account_digest::of("victim"), addr_b,
                           t1);  // 2 of 3: a count that is not protected
    for (int i = 0; i < 200; ++i) {
        EXPECT_EQ(admit(limiter, "fresh" + std::to_string(i), addr_a, t1), 1U) << i;
    }
    limiter.record_failure(account_digest::of("victim"), addr_b, t1);
    limiter.record_failure(account_digest::of("victim"), addr_b,
                           t1);  // 4 of 3 if the count survived
    EXPECT_GT(retry(limiter, "victim", addr_b, t1), 0U) << "the victim's count was evicted";
}

// Attempts that arrive at the same moment from one address, each on an account of its own, pass
// the check together; the reservation that follows still holds the address to its free failures
// and the one past them in flight (5 + 1 here), however they interleave.
TEST(AttemptLimiter, SimultaneousAttemptsFromOneAddressAreHeldToItsBudget) {
    auto config = small_config();  // 5 free failures per address
    constexpr int threads = 16;
    for (int round = 0; round < 300; ++round) {
        attempt_limiter limiter(config);
        const auto t0 = clock_type::now();
        std::atomic<int> ready{0};
        std::atomic<int> admitted{0};
        std::vector<std::thread> pool;
        for (int i = 0; i < threads; ++i) {
            pool.emplace_back([&, i] {
                ++ready;
                while (ready.load() < threads) {
                    std::this_thread::yield();
                }
                if (admit(limiter, "user" + std::to_string(i), addr_a, t0) == 0) {
                    ++admitted;
                }
            });
        }
        for (auto& t : pool) {
            t.join();
        }
        ASSERT_LE(admitted.load(), 6) << "round " << round;
    }
}

TEST(AttemptLimiter, RetryAfterMakesNoEntries) {
    attempt_limiter limiter(small_config());
    const auto t0 = clock_type::now();
    for (std::uint32_t i = 0; i < 1000; ++i) {
        EXPECT_EQ(retry(limiter, "user" + std::to_string(i), address_key(i), t0), 0U);
    }
    EXPECT_EQ(limiter.account_entries(), 0U);
    EXPECT_EQ(limiter.address_entries(), 0U);
}

// Issue #10, item 2: cycling many keys through a full table must not evict an entry that is past
// its free failures: the victim's count (and wait) survives 20,000 fresh keys.
TEST(AttemptLimiter, AWaitingAccountIsNotEvictedByKeyCycling) {
    auto config = small_config();
    config.max_entries = 256;
    attempt_limiter limiter(config);
    const auto t0 = clock_type::now();
    for (int i = 0; i < 6; ++i) {
        limiter.record_failure(account_digest::of("victim"),
                               address_key(static_cast<std::uint32_t>(i)), t0);
    }
    const auto wait = retry(limiter, "victim", addr_b, t0);
    ASSERT_GT(wait, 0U);
    for (std::uint32_t i = 0; i < 20'000; ++i) {
        limiter.record_failure(account_digest::of("user" + std::to_string(i)),
                               address_key(1000 + i), t0);
    }
    EXPECT_LE(limiter.account_entries(), 256U);
    EXPECT_EQ(retry(limiter, "victim", addr_b, t0), wait);
    EXPECT_EQ(limiter.protected_evictions(), 0U);
    // Once its wait is over, the victim's entry still holds its failures: one more is a longer
    // wait, not a fresh budget.
    limiter.record_failure(account_digest::of("victim"), addr_b, t0 + 20s);
    EXPECT_GT(retry(limiter, "victim", addr_b, t0 + 20s), 0U);
}

TEST(AttemptLimiter, AnAttemptInFlightIsNotEvicted) {
    auto config = small_config();
    config.max_entries = 256;
    attempt_limiter limiter(config);
    const auto t0 = clock_type::now();
    for (int i = 0; i < 4; ++i) {
        ASSERT_EQ(admit(limiter, "victim", addr_a, t0), 0U);
    }
    for (std::uint32_t i = 0; i < 10'000; ++i) {
        limiter.record_failure(account_digest::of("user" + std::to_string(i)),
                               address_key(1000 + i), t0);
    }
    EXPECT_EQ(admit(limiter, "victim", addr_b, t0), 1U);  // the four are still in flight
}

TEST(AttemptLimiter, ATableFullOfWaitingEntriesStillTakesNewOnesAndSaysSo) {
    auto config = small_config();
    config.max_entries = 16;
    attempt_limiter limiter(config);
    const auto t0 = clock_type::now();
    for (std::uint32_t i = 0; i < 200; ++i) {
        for (int k = 0; k < 4; ++k) {
            limiter.record_failure(account_digest::of("user" + std::to_string(i)), addr_a, t0);
        }
    }
    EXPECT_LE(limiter.account_entries(), 16U);
    EXPECT_GT(limiter.protected_evictions(), 0U);
}

// --- the owner's budget: known addresses (issue #14) ---------------------------------------------

limiter_config owner_config() {
    auto c = small_config();
    c.address.free_failures = 0;  // the account's budgets alone
    c.known_address_window = 24h;
    return c;
}

// One whole attempt: admitted, then settled with result. False when refused.
bool attempt(attempt_limiter& limiter, std::string_view user, std::uint64_t address,
             attempt_limiter::outcome result, clock_type::time_point now) {
    const auto admitted = limiter.admit(account_digest::of(user), address, now);
    if (admitted.wait > 0) {
        return false;
    }
    limiter.settle(account_digest::of(user), address, admitted, result, now);
    return true;
}

TEST(AttemptLimiter, FailuresElsewhereNeverMakeTheOwnerWait) {
    attempt_limiter limiter(owner_config());  // 3 free failures per account
    const auto t0 = clock_type::now();
    using o = attempt_limiter::outcome;
    ASSERT_TRUE(attempt(limiter, "alice", addr_a, o::success, t0));  // the owner, at addr_a
    for (int i = 0; i < 4; ++i) {
        ASSERT_TRUE(attempt(limiter, "alice", addr_b, o::failure, t0)) << i;
    }
    const auto refused = limiter.admit(account_digest::of("alice"), addr_b, t0);
    EXPECT_EQ(refused.wait, 1U);
    EXPECT_EQ(refused.refused_by, limit_budget::account);
    // The owner is let in at addr_a, by the cheap check and by admission.
    EXPECT_EQ(limiter.retry_after(account_digest::of("alice"), addr_a, t0).wait, 0U);
    const auto owner = limiter.admit(account_digest::of("alice"), addr_a, t0);
    EXPECT_EQ(owner.wait, 0U);
    EXPECT_TRUE(owner.known);
    limiter.settle(account_digest::of("alice"), addr_a, owner, o::success, t0);
    // Fresh addresses share the account's budget: all refused, no guess gained.
    for (std::uint32_t i = 0; i < 50; ++i) {
        const auto fresh = address_key(0x0a000000U + i);
        EXPECT_EQ(limiter.retry_after(account_digest::of("alice"), fresh, t0).refused_by,
                  limit_budget::account);
        EXPECT_GT(limiter.admit(account_digest::of("alice"), fresh, t0).wait, 0U) << i;
    }
    // The owner's success at the known address did not clear the attacker's count.
    EXPECT_GT(limiter.admit(account_digest::of("alice"), addr_b, t0).wait, 0U);
    EXPECT_EQ(limiter.refusals(limit_budget::account), 1U + 50U + 50U + 1U);
}

TEST(AttemptLimiter, FailuresAtAKnownAddressCountInItsOwnBudgetOnly) {
    attempt_limiter limiter(owner_config());
    const auto t0 = clock_type::now();
    using o = attempt_limiter::outcome;
    ASSERT_TRUE(attempt(limiter, "alice", addr_a, o::success, t0));
    for (int i = 0; i < 4; ++i) {
        ASSERT_TRUE(attempt(limiter, "alice", addr_a, o::failure, t0)) << i;
    }
    const auto refused = limiter.retry_after(account_digest::of("alice"), addr_a, t0);
    EXPECT_EQ(refused.wait, 1U);
    EXPECT_EQ(refused.refused_by, limit_budget::known_address);
    // The shared budget was not touched: another address has its free failures.
    for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(attempt(limiter, "alice", addr_b, o::failure, t0)) << i;
    }
}

TEST(AttemptLimiter, AKnownAddressIsForgottenAfterTheWindowOrWithTheWindowOff) {
    using o = attempt_limiter::outcome;
    const auto t0 = clock_type::now();
    {
        attempt_limiter limiter(owner_config());  // a 24 h window
        ASSERT_TRUE(attempt(limiter, "alice", addr_a, o::success, t0));
        EXPECT_TRUE(limiter.admit(account_digest::of("alice"), addr_a, t0 + 23h).known);
        EXPECT_FALSE(limiter.admit(account_digest::of("alice"), addr_a, t0 + 25h).known);
    }
    auto off = owner_config();
    off.known_address_window = 0s;
    attempt_limiter limiter(off);
    ASSERT_TRUE(attempt(limiter, "alice", addr_a, o::success, t0));
    EXPECT_FALSE(limiter.admit(account_digest::of("alice"), addr_a, t0).known);
    EXPECT_EQ(limiter.known_address_entries(), 0U);
}

TEST(AttemptLimiter, EachAccountKeepsItsMostRecentKnownAddresses) {
    attempt_limiter limiter(owner_config());  // 4 per account
    const auto t0 = clock_type::now();
    for (std::uint32_t i = 0; i < 6; ++i) {
        ASSERT_TRUE(attempt(limiter, "alice", address_key(0x0a000000U + i),
                            attempt_limiter::outcome::success, t0 + std::chrono::seconds(i)));
    }
    const auto later = t0 + 10s;
    EXPECT_FALSE(limiter.admit(account_digest::of("alice"), address_key(0x0a000000U), later).known);
    EXPECT_FALSE(limiter.admit(account_digest::of("alice"), address_key(0x0a000001U), later).known);
    for (std::uint32_t i = 2; i < 6; ++i) {
        EXPECT_TRUE(
            limiter.admit(account_digest::of("alice"), address_key(0x0a000000U + i), later).known)
            << i;
    }
    EXPECT_EQ(limiter.known_address_entries(), 1U);
}

TEST(AttemptLimiter, AnotherNodesKnownAddressIsLearned) {
    attempt_limiter limiter(owner_config());
    const auto t0 = clock_type::now();
    limiter.learn_known_address(account_digest::of("alice"), addr_a, 60, t0);
    EXPECT_TRUE(limiter.admit(account_digest::of("alice"), addr_a, t0).known);
    limiter.learn_known_address(account_digest::of("bob"), addr_a, 25 * 3600,
                                t0);  // past the window
    EXPECT_FALSE(limiter.admit(account_digest::of("bob"), addr_a, t0).known);
}

// Another node's news of an older success at an address this node saw succeed since: the newer
// success is kept (it once took the older time, and forgot the address a day early).
TEST(AttemptLimiter, OlderNewsOfAKnownAddressKeepsTheNewerSuccess) {
    attempt_limiter limiter(owner_config());  // a 24 h window
    const auto t0 = clock_type::now();
    ASSERT_TRUE(attempt(limiter, "alice", addr_a, attempt_limiter::outcome::success, t0));
    limiter.learn_known_address(account_digest::of("alice"), addr_a, 20 * 3600, t0);
    EXPECT_TRUE(limiter.admit(account_digest::of("alice"), addr_a, t0 + 23h).known);
}

// The known addresses are bounded by max_entries accounts too: a full table gives up the stalest
// account of those it looks at, never the one that just logged in.
TEST(AttemptLimiter, KnownAddressesOfManyAccountsStayBoundedAndKeepTheNewest) {
    auto config = owner_config();
    config.max_entries = 32;  // 2 accounts in each of the 16 shards
    attempt_limiter limiter(config);
    const auto t0 = clock_type::now();
    for (std::uint32_t i = 0; i < 500; ++i) {
        const auto now = t0 + std::chrono::seconds(i);
        const auto name = "user" + std::to_string(i);
        ASSERT_TRUE(attempt(limiter, name, addr_a, attempt_limiter::outcome::success, now));
        const auto next = limiter.admit(account_digest::of(name), addr_a, now);
        ASSERT_TRUE(next.known) << i;
        limiter.settle(account_digest::of(name), addr_a, next, attempt_limiter::outcome::abandoned,
                       now);
        ASSERT_LE(limiter.known_address_entries(), 32U) << i;
    }
    // The stalest went: the first account, whose shard has seen dozens since, is forgotten.
    EXPECT_FALSE(limiter.admit(account_digest::of("user0"), addr_a, t0 + 500s).known);
    EXPECT_GE(limiter.known_address_entries(), 16U);
}

TEST(AddressKey, Ipv6SlashSixtyFourAndMappedIpv4) {
    std::array<unsigned char, 16> a{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
    auto b = a;
    b[15] = 2;  // same /64
    auto c = a;
    c[7] = 2;  // another /64
    auto d = a;
    d[8] = 0xff;  // the first byte past the /64
    auto e = a;
    e[0] = 0x30;  // the first byte of the /64
    EXPECT_EQ(address_key(a), address_key(b));
    EXPECT_EQ(address_key(a), address_key(d));
    EXPECT_NE(address_key(a), address_key(c));
    EXPECT_NE(address_key(a), address_key(e));
    const std::array<unsigned char, 16> mapped{0, 0, 0,    0,    0,   0, 0, 0,
                                               0, 0, 0xff, 0xff, 127, 0, 0, 2};
    EXPECT_EQ(address_key(mapped), address_key(0x7f000002U));
    EXPECT_NE(address_key(0x7f000002U), address_key(0x7f000003U));
}

}  // namespace
}  // namespace authd
