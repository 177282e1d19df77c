// What a migration of the brute-force counters to accounts by digest (issue 29) must keep, checked
// alike for SQLite's counters file (version 1 to 2) and PostgreSQL's schema (4 to 5). The old
// rows the tests write: account "älice" past its free failures and waiting 300 s, an address 77
// with 3 failures, and "älice" known at address 7.
#pragma once

#include <gtest/gtest.h>

#include "authd/store/limit_store.hpp"

namespace authd_test_support {

inline void expect_old_counts_kept_under_digests(authd::limit_store& limits) {
    const authd::limiter_config c;
    const auto alice = authd::account_digest::of("älice");
    const auto refused = limits.admit(alice, 5, c, 1);
    EXPECT_GT(refused.wait, 200U) << "the account's wait was lost";
    EXPECT_EQ(refused.refused_by, authd::limit_budget::account);
    const auto home = limits.admit(alice, 7, c, 2);
    EXPECT_EQ(home.wait, 0U);
    EXPECT_TRUE(home.known) << "the owner's known address was lost";
    // 3 kept and this one, less what 10 s a failure forgave since the row's time (whole seconds:
    // up to a second, and more on a loaded machine); 1 if the count was lost.
    EXPECT_NEAR(limits.admit(authd::account_digest::of("bob"), 77, c, 3).address.failures, 3.75,
                0.25)
        << "the address's count was lost";
    const auto listed = limits.known_addresses(c);
    ASSERT_EQ(listed.size(), 1U);
    EXPECT_EQ(listed[0].account, alice);
}

}  // namespace authd_test_support
