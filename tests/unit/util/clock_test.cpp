// unix_now() is the clock tests compare token times with (issue 27): never a second behind
// std::chrono::system_clock, also in the milliseconds after a second begins, when std::time()
// (the coarse clock of the last timer tick) still says the second before.
#include "authd/util/clock.hpp"

#include <chrono>
#include <cstdint>

#include <gtest/gtest.h>

namespace {

std::int64_t system_seconds() {
    return std::chrono::floor<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

TEST(UnixNow, AgreesWithTheSystemClockAcrossSecondBoundaries) {
    // Read the three in a tight loop across two second boundaries (at most about 2 s).
    const auto first = system_seconds();
    long behind = 0;
    long ahead = 0;
    long samples = 0;
    while (system_seconds() < first + 2) {
        const auto before = system_seconds();
        const auto now = authd::unix_now();
        const auto after = system_seconds();
        behind += now < before ? 1 : 0;
        ahead += now > after ? 1 : 0;
        ++samples;
    }
    EXPECT_EQ(behind, 0) << "of " << samples << " samples";
    EXPECT_EQ(ahead, 0) << "of " << samples << " samples";
    EXPECT_GT(samples, 1000) << "the loop did not run: the test tested nothing";
}

}  // namespace
