// attempt_limiter over a limit store (issue #14): the store decides and counts; the node's view
// spares the store the refusals it knows; while the store fails, the node counts by itself, and
// merges what it counted when the store answers again. The store here is a scripted fake; the
// real ones keep their contract in tests/unit/store/limit_store_contract_test.cpp.
#include <algorithm>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "authd/login/attempt_limiter.hpp"
#include "authd/store/user_store.hpp"

namespace authd {
namespace {

using namespace std::chrono_literals;
using clock_type = attempt_limiter::clock;
using o = attempt_limiter::outcome;

const std::uint64_t addr_a = address_key(0x0a000001U);
const std::uint64_t addr_b = address_key(0x0a000002U);

limiter_config config() {
    limiter_config c;
    c.account = limit_policy{3, 1s, 60s, 60s};
    c.address = limit_policy{0, 0s, 0s, 0s};  // the account's budget alone
    c.max_entries = 1000;
    return c;
}

account_digest account(std::string_view name) {
    return account_digest::of(name);
}

// Counts per account (every address shared), the 4th count waits 5 s; an address is known once
// told so. Accounts are kept by digest, as a real store keeps them; failures["alice"] reads
// alice's.
class fake_store final : public limit_store {
  public:
    struct by_digest {
        std::map<std::string, double> counts;
        double& operator[](std::string_view name) { return counts[account(name).hex()]; }
        double& operator[](const account_digest& a) { return counts[a.hex()]; }
    };
    bool down = false;
    // Statements about this account are refused (a store_error: the store answers, and says no).
    std::optional<account_digest> refuse;
    // Merges after this many succeed fail as unreachable (-1: never).
    int merges_until_down = -1;
    int merges = 0;
    int admits = 0;
    int successes = 0;
    int checks = 0;
    int prunes = 0;
    std::vector<unshared_count> merged;
    by_digest failures;
    std::map<std::string, bool> known;  // by name

    limit_verdict admit(const account_digest& a, std::uint64_t, const limiter_config&,
                        std::uint64_t attempt) override {
        fail_if_down();
        refuse_if(a);
        ++admits;
        EXPECT_NE(attempt, 0U);
        limit_verdict v;
        auto& f = failures[a];
        for (const auto& [name, is_known] : known) {
            v.known = v.known || (is_known && account(name) == a);
        }
        if (f >= 4) {
            v.wait = 5;
            v.refused_by = limit_budget::account;
        } else {
            f += 1;
        }
        v.account = {f, f >= 4 ? 5.0 : 0.0};
        return v;
    }
    limit_verdict succeed(const account_digest& a, std::uint64_t, bool, const limiter_config&,
                          std::uint64_t) override {
        fail_if_down();
        refuse_if(a);
        ++successes;
        failures[a] = 0;
        return {};
    }
    void release(const account_digest& a, std::uint64_t, bool, const limiter_config&,
                 std::uint64_t) override {
        fail_if_down();
        refuse_if(a);
    }
    void merge(const std::vector<unshared_count>& counts, const limiter_config&) override {
        fail_if_down();
        if (merges_until_down == 0) {
            throw store_unavailable("gone in the middle of a merge");
        }
        merges_until_down -= merges_until_down > 0 ? 1 : 0;
        for (const auto& c : counts) {
            if (c.budget != limit_budget::address) {
                refuse_if(c.account);
            }
        }
        ++merges;
        merged.insert(merged.end(), counts.begin(), counts.end());
        for (const auto& c : counts) {
            failures[c.account] += c.failures;
        }
    }
    void check() override {
        fail_if_down();
        ++checks;
    }
    std::vector<known_address_entry> known_addresses(const limiter_config&) override { return {}; }
    void prune(const limiter_config&) override {
        fail_if_down();
        ++prunes;
    }
    bool shared() const noexcept override { return true; }

  private:
    void fail_if_down() const {
        if (down) {
            throw store_unavailable("the store is down");
        }
    }
    void refuse_if(const account_digest& a) const {
        if (refuse && *refuse == a) {
            throw store_error("ERROR: the statement was refused");
        }
    }
};

// A limiter over a fake store, and the events it tells (limits_store_unreachable, ...).
struct limiter_over_fake {
    fake_store store;
    attempt_limiter limiter{config(), &store};
    std::vector<std::string> events;
    limiter_over_fake() {
        limiter.set_event_sink(
            [this](std::string_view event, std::string_view) { events.emplace_back(event); });
    }
};

// The upkeep (every 0.5 s) prunes the store's rows once a minute, not at each upkeep: every node
// runs it, and a prune is a DELETE over the whole counter table.
TEST(AttemptLimiterStore, TheStoreIsPrunedOnceAMinute) {
    limiter_over_fake t;
    auto& [store, limiter, events] = t;
    const auto t0 = clock_type::now();
    for (int i = 0; i <= 240; ++i) {  // two minutes of upkeeps
        limiter.maintain(t0 + std::chrono::milliseconds(500 * i));
    }
    EXPECT_GE(store.prunes, 2);
    EXPECT_LE(store.prunes, 3);
}

// Down with nothing to merge (the only attempt meanwhile succeeded): an upkeep asks the store
// whether it answers, and while it does not the node stays unshared and says nothing more (it
// once called the store back at every upkeep, with no answer: /metrics said shared, the log
// "answers again", during the whole outage).
TEST(AttemptLimiterStore, AnUpkeepWhileTheStoreIsDownKeepsItDownUntilItAnswers) {
    limiter_over_fake t;
    auto& [store, limiter, events] = t;
    const auto t0 = clock_type::now();
    store.down = true;
    const auto a = limiter.admit(account_digest::of("alice"), addr_a, t0);
    ASSERT_EQ(a.wait, 0U);
    limiter.settle(account_digest::of("alice"), addr_a, a, o::success, t0);
    ASSERT_FALSE(limiter.sharing());
    for (int i = 0; i < 3; ++i) {
        limiter.maintain(t0 + std::chrono::seconds(i));
        EXPECT_FALSE(limiter.sharing()) << i;
    }
    const auto b = limiter.admit(account_digest::of("alice"), addr_a,
                                 t0 + 3s);  // tries the store, which fails
    limiter.settle(account_digest::of("alice"), addr_a, b, o::success, t0 + 3s);
    limiter.maintain(t0 + 4s);
    EXPECT_FALSE(limiter.sharing());
    EXPECT_EQ(events, std::vector<std::string>{"limits_store_unreachable"}) << "said once";
    EXPECT_TRUE(store.merged.empty());
    store.down = false;
    limiter.maintain(t0 + 5s);
    EXPECT_TRUE(limiter.sharing()) << "an upkeep that reaches the store counts it back";
    EXPECT_EQ(store.checks, 1);
    EXPECT_EQ(events.back(), "limits_store_answers");
}

TEST(AttemptLimiterStore, ARefusalTheNodeAlreadyKnowsCostsNoStoreCall) {
    fake_store store;
    attempt_limiter limiter(config(), &store);
    const auto t0 = clock_type::now();
    for (int i = 0; i < 4; ++i) {
        const auto a = limiter.admit(account_digest::of("alice"), addr_a, t0);
        ASSERT_EQ(a.wait, 0U) << i;
        EXPECT_TRUE(a.by_store);
        limiter.settle(account_digest::of("alice"), addr_a, a, o::failure, t0);
    }
    EXPECT_EQ(store.admits, 4);
    EXPECT_EQ(limiter.retry_after(account_digest::of("alice"), addr_b, t0).wait, 5U);
    EXPECT_EQ(limiter.admit(account_digest::of("alice"), addr_b, t0).wait, 5U);
    EXPECT_EQ(store.admits, 4) << "the view refused without asking";
    EXPECT_TRUE(limiter.sharing());
}

TEST(AttemptLimiterStore, WhileTheStoreFailsTheNodeCountsByItselfAndMergesWhenItAnswers) {
    limiter_over_fake t;
    auto& [store, limiter, events] = t;
    const auto t0 = clock_type::now();
    store.down = true;
    int admitted = 0;
    for (int i = 0; i < 10; ++i) {
        const auto a = limiter.admit(account_digest::of("alice"), addr_a, t0);
        if (a.wait == 0) {
            ++admitted;
            EXPECT_FALSE(a.by_store);
            limiter.settle(account_digest::of("alice"), addr_a, a, o::failure, t0);
        }
    }
    EXPECT_EQ(admitted, 4) << "never unlimited: the local budget holds";
    EXPECT_FALSE(limiter.sharing());
    EXPECT_EQ(limiter.local_admissions(), 4U);
    EXPECT_EQ(events, std::vector<std::string>{"limits_store_unreachable"});
    // Back: the next upkeep merges the four failures before anything else.
    store.down = false;
    limiter.maintain(t0);
    ASSERT_EQ(store.merged.size(), 1U);
    EXPECT_EQ(store.merged[0].budget, limit_budget::account);
    EXPECT_EQ(store.merged[0].account, account("alice"));
    EXPECT_DOUBLE_EQ(store.merged[0].failures, 4);
    EXPECT_TRUE(limiter.sharing());
    EXPECT_EQ(events.back(), "limits_store_answers");
    // And the store, which now holds them, refuses alice's next attempt.
    EXPECT_EQ(limiter.admit(account_digest::of("alice"), addr_b, t0 + 10s).wait, 5U);
}

TEST(AttemptLimiterStore, ASuccessIsSettledInTheStoreAndItsKnownAddressIsLearned) {
    fake_store store;
    attempt_limiter limiter(config(), &store);
    const auto t0 = clock_type::now();
    const auto a = limiter.admit(account_digest::of("alice"), addr_a, t0);
    ASSERT_EQ(a.wait, 0U);
    EXPECT_EQ(limiter.account_entries(), 1U) << "the store's count of alice, viewed";
    limiter.settle(account_digest::of("alice"), addr_a, a, o::success, t0);
    EXPECT_EQ(store.successes, 1);
    EXPECT_EQ(store.failures["alice"], 0);
    EXPECT_EQ(limiter.known_address_entries(), 1U);
    // The store's clear count after the success: the node's view keeps nothing of it.
    EXPECT_EQ(limiter.account_entries(), 0U);
    // A failure is settled by nothing: it was counted when admitted.
    const auto b = limiter.admit(account_digest::of("bob"), addr_a, t0);
    limiter.settle(account_digest::of("bob"), addr_a, b, o::failure, t0);
    EXPECT_EQ(store.failures["bob"], 1);
    // The store's word that an address is known (another node's success) is learned too.
    store.known["carol"] = true;
    EXPECT_TRUE(limiter.admit(account_digest::of("carol"), addr_b, t0).known);
    EXPECT_EQ(limiter.known_address_entries(), 2U);
}

// The owner's success, or an abandoned attempt, that the store cannot settle (it is gone, or it
// refuses the statement): the store keeps the attempt as a failure, on the safe side; the node
// forgets its view of the account, which still said what the store answered before the password
// was checked, so that the store decides the owner's next attempt; and the event names the
// statement.
TEST(AttemptLimiterStore, ASettlementTheStoreCannotTakeLeavesTheNextDecisionToTheStore) {
    fake_store store;
    attempt_limiter limiter(config(), &store);
    std::vector<std::pair<std::string, std::string>> told;
    limiter.set_event_sink(
        [&](std::string_view event, std::string_view detail) { told.emplace_back(event, detail); });
    const auto t0 = clock_type::now();
    for (int i = 0; i < 3; ++i) {
        const auto a = limiter.admit(account_digest::of("alice"), addr_a, t0);
        ASSERT_EQ(a.wait, 0U) << i;
        limiter.settle(account_digest::of("alice"), addr_a, a, o::failure, t0);
    }
    // The 4th is admitted; the store's answer has the account waiting from now on.
    const auto owner = limiter.admit(account_digest::of("alice"), addr_a, t0);
    ASSERT_EQ(owner.wait, 0U);
    ASSERT_TRUE(owner.by_store);
    ASSERT_EQ(limiter.retry_after(account_digest::of("alice"), addr_a, t0).wait, 5U);
    store.down = true;
    limiter.settle(account_digest::of("alice"), addr_a, owner, o::success, t0);
    // (addr_a is known now, with a budget of its own: the shared one is asked at addr_b.)
    EXPECT_EQ(limiter.retry_after(account_digest::of("alice"), addr_b, t0).wait, 0U)
        << "a stale view still answers for the store";
    ASSERT_EQ(told.size(), 1U);
    EXPECT_EQ(told[0].first, "limits_store_unreachable");
    EXPECT_NE(told[0].second.find("(succeed)"), std::string::npos) << told[0].second;
    store.down = false;
    const int admits = store.admits;
    EXPECT_EQ(limiter.admit(account_digest::of("alice"), addr_b, t0).wait, 5U)
        << "the store kept the attempt counted: on the safe side";
    EXPECT_EQ(store.admits, admits + 1) << "the store decided";

    // A statement the store refuses, on a success and on an abandoned attempt.
    limiter.maintain(t0 + 1s);
    ASSERT_TRUE(limiter.sharing());
    const auto bob = limiter.admit(account_digest::of("bob"), addr_b, t0 + 1s);
    const auto bob_again = limiter.admit(account_digest::of("bob"), addr_b, t0 + 1s);
    ASSERT_TRUE(bob.by_store && bob_again.by_store);
    store.refuse = account("bob");
    told.clear();
    limiter.settle(account_digest::of("bob"), addr_b, bob, o::success, t0 + 1s);
    limiter.settle(account_digest::of("bob"), addr_b, bob_again, o::abandoned, t0 + 1s);
    ASSERT_EQ(told.size(), 2U);
    EXPECT_EQ(told[0].first, "limits_store_refused");
    EXPECT_NE(told[0].second.find("(succeed)"), std::string::npos) << told[0].second;
    EXPECT_EQ(told[1].first, "limits_store_refused");
    EXPECT_NE(told[1].second.find("(release)"), std::string::npos) << told[1].second;
    EXPECT_TRUE(limiter.sharing()) << "a refusal is an answer";
}

// Issue 29, finding 1: a statement the store refuses (it answers, and says no) is no outage. The
// attempt counts on this node (never unlimited), the node still shares every other count, and
// nothing of it waits to be merged: a merge the store would refuse at every upkeep once put every
// count back each time, the address's among them, which grew with no request at all.
TEST(AttemptLimiterStore, AnAdmissionTheStoreRefusesCountsHereAndLeavesNothingToMerge) {
    limiter_over_fake t;
    auto& [store, limiter, events] = t;
    const auto t0 = clock_type::now();
    store.refuse = account("mallory");
    int admitted = 0;
    for (int i = 0; i < 10; ++i) {
        const auto a = limiter.admit(account_digest::of("mallory"), addr_a, t0);
        if (a.wait == 0) {
            ++admitted;
            EXPECT_FALSE(a.by_store);
            limiter.settle(account_digest::of("mallory"), addr_a, a, o::failure, t0);
        }
    }
    EXPECT_EQ(admitted, 4) << "never unlimited: the local budget holds";
    EXPECT_TRUE(limiter.sharing()) << "the store answers: no outage";
    EXPECT_EQ(std::count(events.begin(), events.end(), "limits_store_unreachable"), 0);
    EXPECT_GE(std::count(events.begin(), events.end(), "limits_store_refused"), 1);
    for (int i = 1; i <= 4; ++i) {
        limiter.maintain(t0 + std::chrono::seconds(i));
    }
    EXPECT_TRUE(store.merged.empty()) << "a refused attempt's count is not the store's to merge";
    // Another account is still counted by the store.
    const auto b = limiter.admit(account_digest::of("alice"), addr_b, t0);
    EXPECT_TRUE(b.by_store);
    EXPECT_EQ(store.failures["alice"], 1);
}

TEST(AttemptLimiterStore, AMergeTheStoreRefusesIsDroppedNotRetriedForEver) {
    limiter_over_fake t;
    auto& [store, limiter, events] = t;
    const auto t0 = clock_type::now();
    store.down = true;
    for (const auto* name : {"alice", "mallory"}) {
        const auto a = limiter.admit(account_digest::of(name), addr_a, t0);
        ASSERT_EQ(a.wait, 0U);
        limiter.settle(account_digest::of(name), addr_a, a, o::failure, t0);
    }
    store.down = false;
    store.refuse = account("mallory");
    for (int i = 1; i <= 4; ++i) {
        limiter.maintain(t0 + std::chrono::seconds(i));
    }
    EXPECT_TRUE(limiter.sharing()) << "it answered: refusing is answering";
    EXPECT_EQ(store.failures["alice"], 1) << "the count the store takes is merged";
    EXPECT_EQ(store.failures["mallory"], 0);
    EXPECT_EQ(events.back(), "limits_store_answers");
    EXPECT_EQ(std::count(events.begin(), events.end(), "limits_store_refused"), 1)
        << "tried once, not at every upkeep";
}

// Counts merge in batches, each one transaction of the store: when the store goes away in the
// middle, the batches it took are not sent again, and the rest are, once it is back.
TEST(AttemptLimiterStore, AMergeCutShortSendsNoBatchTwice) {
    limiter_over_fake t;
    auto& [store, limiter, events] = t;
    const auto t0 = clock_type::now();
    store.down = true;
    const int accounts = 300;  // more than one batch
    for (int i = 0; i < accounts; ++i) {
        const auto name = "user" + std::to_string(i);
        const auto a = limiter.admit(account_digest::of(name), addr_a, t0);
        ASSERT_EQ(a.wait, 0U) << i;
        limiter.settle(account_digest::of(name), addr_a, a, o::failure, t0);
    }
    store.down = false;
    store.merges_until_down = 1;
    limiter.maintain(t0 + 1s);
    EXPECT_FALSE(limiter.sharing()) << "gone again in the middle";
    const auto first = store.merged.size();
    EXPECT_GT(first, 0U);
    EXPECT_LT(first, static_cast<std::size_t>(accounts));
    store.merges_until_down = -1;
    limiter.maintain(t0 + 2s);
    EXPECT_TRUE(limiter.sharing());
    EXPECT_EQ(store.merged.size(), static_cast<std::size_t>(accounts))
        << "each account's count merged exactly once";
    for (int i = 0; i < accounts; ++i) {
        EXPECT_EQ(store.failures["user" + std::to_string(i)], 1) << i;
    }
}

}  // namespace
}  // namespace authd
