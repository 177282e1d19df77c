#include "authd/login/revocation_list.hpp"

#include <string>

#include <gtest/gtest.h>

#include "authd/crypto/jwt.hpp"

namespace authd {
namespace {

// "t0", "t1", ... (built by appending: GCC 12 at -O2 warns -Wrestrict, wrongly, on "t" +
// to_string).
std::string token_id(int i) {
    std::string id = "t";
    id += std::to_string(i);
    return id;
}

TEST(RevocationList, RevokedUntilExpiryThenPurged) {
    revocation_list list(10);
    EXPECT_FALSE(list.revoked("a"));
    EXPECT_TRUE(list.add("a", 100, 50));
    EXPECT_TRUE(list.add("a", 100, 50));  // twice is fine
    EXPECT_TRUE(list.revoked("a"));
    EXPECT_FALSE(list.revoked(""));
    list.purge(99);
    EXPECT_TRUE(list.revoked("a"));
    // A token verifies until exp + the clock leeway: so long is its revocation kept.
    list.purge(100 + token_clock_leeway_seconds - 1);
    EXPECT_TRUE(list.revoked("a"));
    list.purge(100 + token_clock_leeway_seconds);
    EXPECT_FALSE(list.revoked("a"));
    EXPECT_EQ(list.size(), 0U);
}

TEST(RevocationList, FullOfUnexpiredRefusesRatherThanForgets) {
    revocation_list list(3);
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(list.add(token_id(i), 1000 + i, 10));
    }
    EXPECT_FALSE(list.add("t3", 2000, 10));  // forgetting one would make a revoked token valid
    for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(list.revoked(token_id(i)));
    }
    // At 1000 + leeway, t0 has expired (leeway included) and makes room.
    EXPECT_TRUE(list.add("t3", 2000, 1000 + token_clock_leeway_seconds));
    EXPECT_FALSE(list.revoked("t0"));
    EXPECT_TRUE(list.revoked("t3"));
}

}  // namespace
}  // namespace authd
