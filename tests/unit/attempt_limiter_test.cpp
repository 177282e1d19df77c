#include "authd/attempt_limiter.hpp"

#include <string>

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
    return c;
}

const std::uint64_t addr_a = address_key(0x7f000002U);
const std::uint64_t addr_b = address_key(0x7f000003U);

TEST(AttemptLimiter, FreeFailuresThenBackoffThatDoubles) {
    attempt_limiter limiter(small_config());
    const auto t0 = clock_type::now();
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(limiter.retry_after("alice", addr_a, t0), 0U);
        limiter.record_failure("alice", addr_a, t0);
    }
    EXPECT_EQ(limiter.retry_after("alice", addr_a, t0), 0U);  // three free failures
    limiter.record_failure("alice", addr_a, t0);              // the 4th: 1 s
    EXPECT_EQ(limiter.retry_after("alice", addr_a, t0), 1U);
    limiter.record_failure("alice", addr_a, t0);  // the 5th: 2 s
    EXPECT_EQ(limiter.retry_after("alice", addr_a, t0), 2U);
    limiter.record_failure("alice", addr_a, t0);  // the 6th: 4 s, and the address is over too
    EXPECT_EQ(limiter.retry_after("alice", addr_a, t0), 4U);
    EXPECT_EQ(limiter.retry_after("alice", addr_a, t0 + 4s), 0U);  // the wait has passed
}

TEST(AttemptLimiter, BackoffIsCapped) {
    attempt_limiter limiter(small_config());
    const auto t0 = clock_type::now();
    for (int i = 0; i < 40; ++i) {
        limiter.record_failure("alice", address_key(static_cast<std::uint32_t>(i)), t0);
    }
    EXPECT_EQ(limiter.retry_after("alice", addr_b, t0), 60U);
}

TEST(AttemptLimiter, FailuresAreForgivenWithTime) {
    attempt_limiter limiter(small_config());
    const auto t0 = clock_type::now();
    for (int i = 0; i < 4; ++i) {
        limiter.record_failure("alice", addr_a, t0);
    }
    ASSERT_GT(limiter.retry_after("alice", addr_a, t0), 0U);
    // 40 s later four failures are forgiven (one per 10 s): the next failure is free again.
    limiter.record_failure("alice", addr_a, t0 + 40s);
    EXPECT_EQ(limiter.retry_after("alice", addr_a, t0 + 40s), 0U);
}

TEST(AttemptLimiter, SuccessClearsTheAccountButNotTheAddress) {
    attempt_limiter limiter(small_config());
    const auto t0 = clock_type::now();
    for (int i = 0; i < 4; ++i) {
        limiter.record_failure("alice", addr_a, t0);
    }
    limiter.record_success("alice", t0);
    EXPECT_EQ(limiter.retry_after("alice", addr_b, t0), 0U);
    // The address had 4 failures of 5 free; two more block it for every account.
    limiter.record_failure("bob", addr_a, t0);
    limiter.record_failure("bob", addr_a, t0);
    EXPECT_EQ(limiter.retry_after("carol", addr_a, t0), 2U);
    EXPECT_EQ(limiter.retry_after("carol", addr_b, t0), 0U);
}

TEST(AttemptLimiter, AccountLimitHoldsAcrossAddresses) {
    attempt_limiter limiter(small_config());
    const auto t0 = clock_type::now();
    for (std::uint32_t i = 0; i < 4; ++i) {
        limiter.record_failure("alice", address_key(100 + i), t0);  // a distributed guesser
    }
    EXPECT_EQ(limiter.retry_after("alice", address_key(999), t0), 1U);
    EXPECT_EQ(limiter.retry_after("bob", address_key(999), t0), 0U);
}

TEST(AttemptLimiter, MemoryIsBoundedUnderKeyCycling) {
    auto config = small_config();
    config.max_entries = 256;
    attempt_limiter limiter(config);
    const auto t0 = clock_type::now();
    for (std::uint32_t i = 0; i < 100'000; ++i) {
        limiter.record_failure("user" + std::to_string(i), address_key(i), t0);
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
        limiter.record_failure("user" + std::to_string(i), addr_a, t0);
    }
    EXPECT_EQ(limiter.address_entries(), 0U);
    EXPECT_EQ(limiter.retry_after("fresh", addr_a, t0), 0U);
}

TEST(AddressKey, Ipv6SlashSixtyFourAndMappedIpv4) {
    std::array<unsigned char, 16> a{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
    auto b = a;
    b[15] = 2;  // same /64
    auto c = a;
    c[7] = 2;  // another /64
    EXPECT_EQ(address_key(a), address_key(b));
    EXPECT_NE(address_key(a), address_key(c));
    const std::array<unsigned char, 16> mapped{0, 0, 0,    0,    0,   0, 0, 0,
                                               0, 0, 0xff, 0xff, 127, 0, 0, 2};
    EXPECT_EQ(address_key(mapped), address_key(0x7f000002U));
    EXPECT_NE(address_key(0x7f000002U), address_key(0x7f000003U));
}

}  // namespace
}  // namespace authd
