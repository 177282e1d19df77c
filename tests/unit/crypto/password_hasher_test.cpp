#include "authd/crypto/password_hasher.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

// An unknown user's dummy verification costs what a known user's costs: its hash has the
// hasher's own parameters, and no password matches it.
TEST(PasswordHasher, TheDummyHashHasTheHashersParameters) {
    struct recording_runner final : hash_runner {
        std::vector<std::string> verified;
        bool verify(const std::string& phc, std::string_view password) override {
            verified.push_back(phc);
            return verify_password_here(phc, password);
        }
        std::optional<std::string> hash(std::string_view password,
                                        const argon2_params& params) override {
            return hash_password_here(password, params);
        }
    };
    for (const argon2_params params : {cheap, argon2_params{3, 16 * 1024}}) {
        const password_hasher hasher(params);
        recording_runner runner;
        hasher.verify_dummy("anything", runner);
        hasher.verify_dummy("", runner);
        ASSERT_EQ(runner.verified.size(), 2U);
        const auto& dummy = runner.verified[0];
        EXPECT_EQ(dummy, runner.verified[1]);
        EXPECT_EQ(dummy.rfind("$argon2id$v=19$m=" + std::to_string(params.memory_bytes / 1024) +
                                  ",t=" + std::to_string(params.ops) + ",p=1$",
                              0),
                  0U)
            << dummy;
        EXPECT_FALSE(hasher.needs_rehash(dummy));
        EXPECT_FALSE(hasher.verify(dummy, "anything"));
    }
}

// The bounds of new hashes, each inclusive: what they allow is taken, one past it is refused.
TEST(PasswordHasher, TheParameterBoundsAreInclusive) {
    constexpr std::size_t kib = 1024;
    constexpr std::size_t gib = std::size_t{1} << 30;
    const std::pair<argon2_params, const char*> rows[] = {
        {{1, 8 * kib}, nullptr},
        {{0, 8 * kib}, "iterations: at least 1"},
        {{100, 8 * kib}, nullptr},  // docs/configuration.md's bounds
        {{101, 8 * kib}, "iterations: at most 100"},
        {{1, 8 * kib - 1}, "memory: at least 8KiB"},
        {{1, 4 * gib}, nullptr},
        {{1, 4 * gib + 1}, "memory: at most 4GiB"},
        {{2, 4 * gib}, nullptr},  // 8 GiB of work
        {{3, 4 * gib}, "memory x iterations"},
        {{8, gib}, nullptr},
        {{9, gib}, "memory x iterations"},
    };
    for (const auto& [params, problem] : rows) {
        SCOPED_TRACE(std::to_string(params.ops) + " x " + std::to_string(params.memory_bytes));
        const char* got = argon2_params_problem(params);
        if (problem == nullptr) {
            EXPECT_EQ(got, nullptr) << got;
        } else {
            ASSERT_NE(got, nullptr);
            EXPECT_EQ(std::string_view(got).rfind(problem, 0), 0U) << got;
        }
    }
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
