#include "authd/crypto/password_hasher.hpp"

#include <gtest/gtest.h>

#include "authd/util/units.hpp"

namespace authd {
namespace {

constexpr argon2_params cheap{1, 8 * 1024};

TEST(PasswordHasher, HashesWithArgon2idAndVerifies) {
    const password_hasher hasher(cheap);
    const auto phc = hasher.hash("password_test");
    EXPECT_EQ(phc.rfind("$argon2id$v=19$m=8,t=1,p=1$", 0), 0U) << phc;
    EXPECT_TRUE(hasher.verify(phc, "password_test"));
    EXPECT_FALSE(hasher.verify(phc, "password_tesT"));
    EXPECT_FALSE(hasher.verify(phc, ""));
    EXPECT_FALSE(hasher.verify("not a hash", "password_test"));
    EXPECT_NE(hasher.hash("password_test"), phc);  // a fresh salt each time
}

TEST(PasswordHasher, DefaultsAreOwaspMinimum) {
    const argon2_params defaults;
    EXPECT_EQ(defaults.ops, 2U);
    EXPECT_EQ(defaults.memory_bytes, 19U * 1024 * 1024);
}

TEST(PasswordHasher, NeedsRehashWhenParametersDiffer) {
    const password_hasher hasher(cheap);
    const password_hasher stronger(argon2_params{2, 16 * 1024});
    const auto phc = hasher.hash("x");
    EXPECT_FALSE(hasher.needs_rehash(phc));
    EXPECT_TRUE(stronger.needs_rehash(phc));
    EXPECT_TRUE(hasher.needs_rehash("$2b$10$notargon2"));
    EXPECT_TRUE(stronger.verify(phc, "x"));  // old hashes stay valid until rehashed
}

TEST(PasswordHasher, DummyVerificationRunsAndCounts) {
    const password_hasher hasher(cheap);
    EXPECT_EQ(hasher.dummy_verifications(), 0U);
    hasher.verify_dummy("anything");
    hasher.verify_dummy("");
    EXPECT_EQ(hasher.dummy_verifications(), 2U);
}

TEST(PasswordHasher, RefusesParametersOutsideLibsodiumsLimits) {
    EXPECT_THROW(password_hasher(argon2_params{0, 8 * 1024}), std::invalid_argument);
    EXPECT_THROW(password_hasher(argon2_params{1, 1024}), std::invalid_argument);
}

TEST(ParseSize, UnitsAndErrors) {
    EXPECT_EQ(parse_size("19MiB"), 19U * 1024 * 1024);
    EXPECT_EQ(parse_size("64KiB"), 64U * 1024);
    EXPECT_EQ(parse_size("1GiB"), 1024U * 1024 * 1024);
    EXPECT_EQ(parse_size("4096"), 4096U);
    for (const auto* bad : {"", "MiB", "12 MiB", "12XB", "-1", "99999999999999999999GiB"}) {
        EXPECT_THROW(parse_size(bad), std::invalid_argument) << bad;
    }
}

}  // namespace
}  // namespace authd
