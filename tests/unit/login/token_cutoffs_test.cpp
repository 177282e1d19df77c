#include "authd/login/token_cutoffs.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace authd {
namespace {

constexpr std::int64_t now = 1'700'000'000;
constexpr std::int64_t lifetime = 1801;  // a 30-minute token and a second of leeway

TEST(TokenCutoffs, VoidsTokensIssuedBeforeTheCutoff) {
    token_cutoff_map cutoffs(16, lifetime);
    EXPECT_FALSE(cutoffs.voids("alice", now));
    EXPECT_FALSE(cutoffs.voids("alice", std::nullopt)) << "no cutoff: any token";
    cutoffs.raise("alice", now + 1, now);
    EXPECT_EQ(cutoffs.not_before("alice"), now + 1);
    EXPECT_TRUE(cutoffs.voids("alice", now));
    EXPECT_TRUE(cutoffs.voids("alice", now - 100));
    EXPECT_FALSE(cutoffs.voids("alice", now + 1));
    EXPECT_FALSE(cutoffs.voids("alice", now + 2));
    EXPECT_TRUE(cutoffs.voids("alice", std::nullopt)) << "a token without iat predates the cutoff";
    EXPECT_FALSE(cutoffs.voids("bob", now - 100));
    EXPECT_EQ(cutoffs.not_before("bob"), 0);
}

TEST(TokenCutoffs, RaisesNeverLowers) {
    token_cutoff_map cutoffs(16, lifetime);
    cutoffs.raise("alice", now + 1, now);
    cutoffs.raise("alice", now - 10, now);
    EXPECT_EQ(cutoffs.not_before("alice"), now + 1);
    cutoffs.raise("alice", now + 5, now);
    EXPECT_EQ(cutoffs.not_before("alice"), now + 5);
    EXPECT_EQ(cutoffs.size(), 1U);
}

TEST(TokenCutoffs, EntriesGoOnceEveryTokenTheyVoidHasExpired) {
    token_cutoff_map cutoffs(16, lifetime);
    cutoffs.raise("old", now - lifetime, now);  // voids nothing still alive: not even kept
    EXPECT_EQ(cutoffs.size(), 0U);
    cutoffs.raise("alice", now, now);
    cutoffs.raise("bob", now + 10, now);
    cutoffs.purge(now + lifetime - 1);
    EXPECT_EQ(cutoffs.size(), 2U);
    cutoffs.purge(now + lifetime);
    EXPECT_EQ(cutoffs.size(), 1U);
    EXPECT_EQ(cutoffs.not_before("alice"), 0);
    EXPECT_EQ(cutoffs.not_before("bob"), now + 10);
}

// Full of cutoffs that still void tokens: the oldest one becomes a floor for everyone, so that no
// voided token verifies again, and memory stays bounded.
TEST(TokenCutoffs, FullMapRaisesAFloorRatherThanForgetting) {
    token_cutoff_map cutoffs(4, lifetime);
    for (int i = 0; i < 4; ++i) {
        cutoffs.raise("user" + std::to_string(i), now + i, now);
    }
    cutoffs.raise("late", now + 100, now);
    EXPECT_EQ(cutoffs.size(), 4U);
    EXPECT_TRUE(cutoffs.voids("user0", now - 1)) << "the evicted cutoff stays in force";
    EXPECT_TRUE(cutoffs.voids("someone", now - 1)) << "for everyone";
    EXPECT_FALSE(cutoffs.voids("someone", now));
    EXPECT_EQ(cutoffs.not_before("late"), now + 100);
    EXPECT_EQ(cutoffs.not_before("user3"), now + 3);
    cutoffs.purge(now + lifetime + 100);
    EXPECT_EQ(cutoffs.size(), 0U);
    EXPECT_FALSE(cutoffs.voids("someone", std::nullopt));
}

// A capacity of 0 is taken as 1: the map still keeps one user's cutoff, and the next user's
// makes the older one everyone's floor (it never keeps none, which would forget a cutoff).
TEST(TokenCutoffs, AMapOfNoCapacityKeepsOneCutoffAndThenAFloor) {
    token_cutoff_map cutoffs(0, lifetime);
    cutoffs.raise("a", now + 1, now);
    EXPECT_EQ(cutoffs.size(), 1U);
    EXPECT_EQ(cutoffs.not_before("a"), now + 1);
    EXPECT_EQ(cutoffs.not_before("someone"), 0);
    cutoffs.raise("b", now + 2, now);
    EXPECT_EQ(cutoffs.size(), 1U);
    EXPECT_EQ(cutoffs.not_before("b"), now + 2);
    EXPECT_EQ(cutoffs.not_before("a"), now + 1) << "a's cutoff stays in force, as the floor";
    EXPECT_EQ(cutoffs.not_before("someone"), now + 1);
}

TEST(TokenCutoffs, ReadersNeverSeeAVoidedTokenValid) {
    token_cutoff_map cutoffs(64, lifetime);
    std::atomic<bool> writing{true};
    std::atomic<int> wrong{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 3; ++t) {
        readers.emplace_back([&] {
            std::int64_t seen = 0;
            while (writing) {
                const auto cutoff = cutoffs.not_before("alice");
                if (cutoff < seen) {
                    ++wrong;  // went back
                }
                seen = cutoff;
                cutoffs.voids("bob", now);
            }
        });
    }
    for (int i = 0; i < 2000; ++i) {
        cutoffs.raise("alice", now + i, now);
        cutoffs.raise("user" + std::to_string(i % 100), now + i, now);
    }
    writing = false;
    for (auto& r : readers) {
        r.join();
    }
    EXPECT_EQ(wrong.load(), 0);
    EXPECT_EQ(cutoffs.not_before("alice"), now + 1999);
}

}  // namespace
}  // namespace authd
