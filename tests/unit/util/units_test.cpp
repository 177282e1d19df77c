// The units of settings (core/src/util/units.cpp): what format_*() writes, parse_*() reads back,
// so that --help can show server_config's defaults as an operator writes them.
#include "authd/util/units.hpp"

#include <chrono>
#include <cstddef>

#include <gtest/gtest.h>

namespace authd {
namespace {

using namespace std::chrono_literals;

TEST(Units, DurationsAreWrittenInTheLargestWholeUnitAboveAMinute) {
    EXPECT_EQ(format_duration(3s), "3s");
    EXPECT_EQ(format_duration(60s), "60s");
    EXPECT_EQ(format_duration(90s), "90s");
    EXPECT_EQ(format_duration(120s), "2m");
    EXPECT_EQ(format_duration(30min), "30m");
    EXPECT_EQ(format_duration(3h), "3h");
    EXPECT_EQ(format_duration(std::chrono::seconds(2 * 86400)), "2d");
    EXPECT_EQ(format_duration(std::chrono::seconds(3601)), "3601s");
}

TEST(Units, WrittenDurationsReadBack) {
    for (const long long s : {1LL, 59LL, 60LL, 61LL, 120LL, 900LL, 1800LL, 3600LL, 5400LL, 86400LL,
                              90061LL, 366LL * 86400}) {
        EXPECT_EQ(parse_duration(format_duration(std::chrono::seconds(s))).count(), s) << s;
    }
}

TEST(Units, SizesAreWrittenInTheLargestWholeUnit) {
    EXPECT_EQ(format_size(19U * 1024 * 1024), "19MiB");
    EXPECT_EQ(format_size(8 * 1024), "8KiB");
    EXPECT_EQ(format_size(std::size_t{1} << 30), "1GiB");
    EXPECT_EQ(format_size(1536U * 1024), "1536KiB");
    EXPECT_EQ(format_size(4097), "4097");
    EXPECT_EQ(format_size(0), "0");
}

TEST(Units, WrittenSizesReadBack) {
    for (const std::size_t b :
         {std::size_t{1}, std::size_t{1023}, std::size_t{1024}, std::size_t{8192},
          std::size_t{19} << 20, std::size_t{3} << 30, (std::size_t{1} << 30) + 1024}) {
        EXPECT_EQ(parse_size(format_size(b)), b) << b;
    }
}

}  // namespace
}  // namespace authd
