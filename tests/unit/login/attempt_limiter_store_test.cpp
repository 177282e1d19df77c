// attempt_limiter over a limit store (issue #14): the store decides and counts; the node's view
// spares the store the refusals it knows; while the store fails, the node counts by itself, and
// merges what it counted when the store answers again. The store here is a scripted fake; the
// real ones keep their contract in tests/unit/store/limit_store_contract_test.cpp.
#include <map>
#include <stdexcept>
#include <string>
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

// Counts per account (every address shared), the 4th count waits 5 s; an address is known once
// told so.
class fake_store final : public limit_store {
  public:
    bool down = false;
    int admits = 0;
    int successes = 0;
    int checks = 0;
    std::vector<unshared_count> merged;
    std::map<std::string, double> failures;
    std::map<std::string, bool> known;

    limit_verdict admit(std::string_view name, std::uint64_t, const limiter_config&,
                        std::uint64_t attempt) override {
        fail_if_down();
        ++admits;
        EXPECT_NE(attempt, 0U);
        limit_verdict v;
        auto& f = failures[std::string(name)];
        v.known = known[std::string(name)];
        if (f >= 4) {
            v.wait = 5;
            v.refused_by = limit_budget::account;
        } else {
            f += 1;
        }
        v.account = {f, f >= 4 ? 5.0 : 0.0};
        return v;
    }
    limit_verdict succeed(std::string_view name, std::uint64_t, bool, const limiter_config&,
                          std::uint64_t) override {
        fail_if_down();
        ++successes;
        failures[std::string(name)] = 0;
        return {};
    }
    void release(std::string_view, std::uint64_t, bool, const limiter_config&,
                 std::uint64_t) override {
        fail_if_down();
    }
    void merge(const std::vector<unshared_count>& counts, const limiter_config&) override {
        fail_if_down();
        merged.insert(merged.end(), counts.begin(), counts.end());
        for (const auto& c : counts) {
            failures[c.name] += c.failures;
        }
    }
    void check() override {
        fail_if_down();
        ++checks;
    }
    std::vector<known_address_entry> known_addresses(const limiter_config&) override { return {}; }
    void prune(const limiter_config&) override {}
    bool shared() const noexcept override { return true; }

  private:
    void fail_if_down() const {
        if (down) {
            throw store_unavailable("the store is down");
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

// Down with nothing to merge (the only attempt meanwhile succeeded): an upkeep asks the store
// whether it answers, and while it does not the node stays unshared and says nothing more (it
// once called the store back at every upkeep, with no answer: /metrics said shared, the log
// "answers again", during the whole outage).
TEST(AttemptLimiterStore, AnUpkeepWhileTheStoreIsDownKeepsItDownUntilItAnswers) {
    limiter_over_fake t;
    auto& [store, limiter, events] = t;
    const auto t0 = clock_type::now();
    store.down = true;
    const auto a = limiter.admit("alice", addr_a, t0);
    ASSERT_EQ(a.wait, 0U);
    limiter.settle("alice", addr_a, a, o::success, t0);
    ASSERT_FALSE(limiter.sharing());
    for (int i = 0; i < 3; ++i) {
        limiter.maintain(t0 + std::chrono::seconds(i));
        EXPECT_FALSE(limiter.sharing()) << i;
    }
    const auto b = limiter.admit("alice", addr_a, t0 + 3s);  // tries the store, which fails
    limiter.settle("alice", addr_a, b, o::success, t0 + 3s);
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
        const auto a = limiter.admit("alice", addr_a, t0);
        ASSERT_EQ(a.wait, 0U) << i;
        EXPECT_TRUE(a.by_store);
        limiter.settle("alice", addr_a, a, o::failure, t0);
    }
    EXPECT_EQ(store.admits, 4);
    EXPECT_EQ(limiter.retry_after("alice", addr_b, t0).wait, 5U);
    EXPECT_EQ(limiter.admit("alice", addr_b, t0).wait, 5U);
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
        const auto a = limiter.admit("alice", addr_a, t0);
        if (a.wait == 0) {
            ++admitted;
            EXPECT_FALSE(a.by_store);
            limiter.settle("alice", addr_a, a, o::failure, t0);
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
    EXPECT_EQ(store.merged[0].name, "alice");
    EXPECT_DOUBLE_EQ(store.merged[0].failures, 4);
    EXPECT_TRUE(limiter.sharing());
    EXPECT_EQ(events.back(), "limits_store_answers");
    // And the store, which now holds them, refuses alice's next attempt.
    EXPECT_EQ(limiter.admit("alice", addr_b, t0 + 10s).wait, 5U);
}

TEST(AttemptLimiterStore, ASuccessIsSettledInTheStoreAndItsKnownAddressIsLearned) {
    fake_store store;
    attempt_limiter limiter(config(), &store);
    const auto t0 = clock_type::now();
    const auto a = limiter.admit("alice", addr_a, t0);
    ASSERT_EQ(a.wait, 0U);
    limiter.settle("alice", addr_a, a, o::success, t0);
    EXPECT_EQ(store.successes, 1);
    EXPECT_EQ(store.failures["alice"], 0);
    EXPECT_EQ(limiter.known_address_entries(), 1U);
    // A failure is settled by nothing: it was counted when admitted.
    const auto b = limiter.admit("bob", addr_a, t0);
    limiter.settle("bob", addr_a, b, o::failure, t0);
    EXPECT_EQ(store.failures["bob"], 1);
    // The store's word that an address is known (another node's success) is learned too.
    store.known["carol"] = true;
    EXPECT_TRUE(limiter.admit("carol", addr_b, t0).known);
    EXPECT_EQ(limiter.known_address_entries(), 2U);
}

}  // namespace
}  // namespace authd
