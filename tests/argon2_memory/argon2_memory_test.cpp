// server/workers/argon2_memory.hpp in a process of its own (this test binary defines mmap and
// munmap as authd does): which requests it answers from its kept memory, and that everything else
// reaches the kernel as without it. Built twice: authd_argon2_memory_tests as authd is built, and
// authd_argon2_memory_off_tests with the mechanism compiled out (AUTHD_ARGON2_MEMORY=0, what
// sanitizer builds get), where the same checks expect libsodium's own behaviour.
//
// Each test runs in a process of its own under ctest (gtest_discover_tests); run directly, the
// last test (which retires the mechanism for good) comes last.

#include "workers/argon2_memory.hpp"

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <sys/mman.h>
#include <thread>

#include <gtest/gtest.h>
#include <sodium.h>

namespace {

using namespace authd::server;

constexpr std::size_t mib = 1024 * 1024;
constexpr std::string_view password = "password";

class Argon2MemoryTest : public ::testing::Test {
  protected:
    void SetUp() override { ASSERT_GE(sodium_init(), 0); }
    void TearDown() override {
        defer_argon2_memory_wipe(false);
        disable_argon2_memory();
    }

    // Requests lent the kept memory, and times it grew, since the test began (the counts are the
    // process's: all tests share it when the binary runs them in one process).
    std::uint64_t lent() const { return argon2_memory_stats_now().lent - start_.lent; }
    std::uint64_t grown() const { return argon2_memory_stats_now().grown - start_.grown; }

    argon2_memory_stats start_ = argon2_memory_stats_now();

    // A hash at memory bytes, t=1.
    static std::string hash(std::size_t memory) {
        char out[crypto_pwhash_STRBYTES];
        EXPECT_EQ(crypto_pwhash_str_alg(out, password.data(), password.size(), 1, memory,
                                        crypto_pwhash_ALG_ARGON2ID13),
                  0);
        return out;
    }
    static bool verify(const std::string& phc, std::string_view pw) {
        return crypto_pwhash_str_verify(phc.c_str(), pw.data(), pw.size()) == 0;
    }
};

TEST_F(Argon2MemoryTest, OnlyWhereBuiltIn) {
    EXPECT_EQ(enable_argon2_memory(mib), argon2_memory_built_in());
    EXPECT_EQ(argon2_memory_stats_now().active, argon2_memory_built_in());
#if defined(AUTHD_ARGON2_MEMORY_TEST_OFF)
    EXPECT_FALSE(argon2_memory_built_in());
#elif defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)  // GCC's sanitizers
    EXPECT_FALSE(argon2_memory_built_in());
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)  // clang's
    EXPECT_FALSE(argon2_memory_built_in());
#else
    EXPECT_TRUE(argon2_memory_built_in());
#endif
#else
    EXPECT_TRUE(argon2_memory_built_in());
#endif
}

TEST_F(Argon2MemoryTest, OffUnlessSwitchedOnArgon2GetsTheKernelsMemory) {
    const std::string phc = hash(mib);
    EXPECT_TRUE(verify(phc, password));
    EXPECT_FALSE(verify(phc, "wrong"));
    const auto stats = argon2_memory_stats_now();
    EXPECT_FALSE(stats.active);
    EXPECT_EQ(lent(), 0U);
    EXPECT_EQ(stats.region_bytes, 0U);
}

TEST_F(Argon2MemoryTest, Argon2IsLentTheKeptMemoryAndItIsWipedAfter) {
    const bool on = enable_argon2_memory(2 * mib);
    const std::string phc = hash(2 * mib);
    EXPECT_TRUE(verify(phc, password));
    EXPECT_FALSE(verify(phc, "wrong"));
    const auto stats = argon2_memory_stats_now();
    EXPECT_EQ(lent(), on ? 3U : 0U);
    EXPECT_EQ(stats.region_bytes, on ? 2 * mib : 0U);
    EXPECT_EQ(argon2_memory_nonzero_bytes(), 0U);
}

TEST_F(Argon2MemoryTest, SwitchedOffAgainArgon2GetsTheKernelsMemory) {
    const bool on = enable_argon2_memory(mib);
    const std::string phc = hash(mib);
    disable_argon2_memory();
    EXPECT_TRUE(verify(phc, password));
    const auto stats = argon2_memory_stats_now();
    EXPECT_FALSE(stats.active);
    EXPECT_EQ(lent(), on ? 1U : 0U);  // the hash only
    EXPECT_EQ(stats.region_bytes, 0U);
}

TEST_F(Argon2MemoryTest, TheSameRequestFromOutsideLibsodiumGoesToTheKernel) {
    enable_argon2_memory(mib);
    void* p = mmap(nullptr, mib, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE | MAP_POPULATE,
                   -1, 0);
    ASSERT_NE(p, MAP_FAILED);
    EXPECT_FALSE(argon2_memory_owns(p));
    static_cast<char*>(p)[0] = 1;
    EXPECT_EQ(munmap(p, mib), 0);
    EXPECT_EQ(lent(), 0U);
    EXPECT_EQ(argon2_memory_nonzero_bytes(), 0U);
}

TEST_F(Argon2MemoryTest, LibsodiumsOtherMappingsGoToTheKernel) {
    // sodium_malloc maps with MAP_ANONYMOUS|MAP_PRIVATE (no MAP_POPULATE), from libsodium's code.
    enable_argon2_memory(mib);
    void* p = sodium_malloc(mib);
    ASSERT_NE(p, nullptr);
    EXPECT_FALSE(argon2_memory_owns(p));
    std::memset(p, 1, mib);
    sodium_free(p);
    const auto stats = argon2_memory_stats_now();
    EXPECT_EQ(lent(), 0U);
    EXPECT_EQ(stats.active, argon2_memory_built_in());
    EXPECT_EQ(argon2_memory_nonzero_bytes(), 0U);
}

TEST_F(Argon2MemoryTest, OtherRequestsGoToTheKernel) {
    enable_argon2_memory(mib);
    // A hint, a file-less shared mapping, other protections: all the kernel's, and unmapped by it.
    void* hinted = mmap(reinterpret_cast<void*>(0x7e0000000000), mib, PROT_READ | PROT_WRITE,
                        MAP_ANONYMOUS | MAP_PRIVATE | MAP_POPULATE, -1, 0);
    void* shared = mmap(nullptr, mib, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_SHARED, -1, 0);
    void* readonly = mmap(nullptr, mib, PROT_READ, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    for (void* p : {hinted, shared, readonly}) {
        ASSERT_NE(p, MAP_FAILED);
        EXPECT_FALSE(argon2_memory_owns(p));
        EXPECT_EQ(munmap(p, mib), 0);
    }
    // A bad request fails as the kernel fails it.
    errno = 0;
    EXPECT_EQ(mmap(nullptr, mib, PROT_READ, MAP_ANONYMOUS | MAP_PRIVATE, -1, 1), MAP_FAILED);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_EQ(lent(), 0U);
}

// How many mappings of this process are left out of core dumps ("dd" in /proc/self/smaps): the
// kept memory is one of them while it exists.
std::size_t dont_dump_mappings() {
    std::ifstream smaps("/proc/self/smaps");
    std::size_t n = 0;
    for (std::string line; std::getline(smaps, line);) {
        if (line.rfind("VmFlags:", 0) == 0 && (line + " ").find(" dd ") != std::string::npos) {
            ++n;
        }
    }
    return n;
}

// The kept memory serves argon2 up to argon2_memory_max_kept_bytes (256 MiB): a request of that
// size is lent the region, a larger one goes to the kernel as without the mechanism.
TEST_F(Argon2MemoryTest, TheLargestKeptRequestIsLentAndALargerOneGoesToTheKernel) {
    const bool on = enable_argon2_memory(mib);
    const std::string at_bound = hash(argon2_memory_max_kept_bytes);
    EXPECT_EQ(lent(), on ? 1U : 0U);
    EXPECT_EQ(argon2_memory_stats_now().region_bytes, on ? argon2_memory_max_kept_bytes : 0U);
    // (argon2 rounds its memory down to 4 blocks of 1 KiB per lane: 4 KiB more is the next size.)
    const std::string past = hash(argon2_memory_max_kept_bytes + 4096);
    EXPECT_EQ(lent(), on ? 1U : 0U) << "a request past the bound was lent the region";
    EXPECT_TRUE(verify(past, password));
}

// This process's address space in KiB (VmSize of /proc/self/status).
long vm_size_kib() {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("VmSize:", 0) == 0) {
            return std::stol(line.substr(7));
        }
    }
    return -1;
}

// The kept memory takes its own size of address space and no more: the slack mmap is asked for,
// to align the region to 2 MiB, is given back on both sides.
TEST_F(Argon2MemoryTest, TheKeptMemoryTakesNoMoreAddressSpaceThanItsSize) {
    const long before = vm_size_kib();
    if (!enable_argon2_memory(2 * mib)) {
        EXPECT_FALSE(argon2_memory_built_in());
        return;
    }
    EXPECT_EQ(vm_size_kib() - before,
              static_cast<long>(argon2_memory_stats_now().region_bytes / 1024));
}

// Growing replaces the kept memory: the smaller region is given back to the kernel, not kept
// beside the larger one.
TEST_F(Argon2MemoryTest, ALargerMemoryCostGrowsTheKeptMemoryOnce) {
    const auto mappings_before = dont_dump_mappings();
    const bool on = enable_argon2_memory(mib);
    const std::string small = hash(mib);
    const std::string large = hash(3 * mib);
    EXPECT_TRUE(verify(small, password));
    EXPECT_TRUE(verify(large, password));
    const auto stats = argon2_memory_stats_now();
    EXPECT_EQ(lent(), on ? 4U : 0U);
    EXPECT_EQ(grown(), on ? 1U : 0U);
    EXPECT_EQ(stats.region_bytes, on ? 4 * mib : 0U);  // 3 MiB, in whole huge pages
    EXPECT_EQ(argon2_memory_nonzero_bytes(), 0U);
    if (on) {  // (off, as in sanitizer builds, the sanitizer's own mappings come and go)
        EXPECT_EQ(dont_dump_mappings(), mappings_before + 1) << "the old region is kept";
    }
}

// Two argon2 calls at once in one process (threads hashing side by side): the kept memory is lent
// to one at a time, the other gets the kernel's, and every answer is right.
TEST_F(Argon2MemoryTest, TwoCallsAtOnceNeverShareTheKeptMemory) {
    const bool on = enable_argon2_memory(mib);
    const std::string phc = hash(mib);
    std::atomic<int> wrong{0};
    const auto work = [&] {
        for (int i = 0; i < 150; ++i) {
            wrong += verify(phc, password) ? 0 : 1;
            wrong += verify(phc, "wrong") ? 1 : 0;
        }
    };
    std::thread other(work);
    work();
    other.join();
    EXPECT_EQ(wrong.load(), 0) << "calls that shared the kept memory computed wrong answers";
    EXPECT_LE(lent(), on ? 601U : 0U);
    EXPECT_EQ(argon2_memory_nonzero_bytes(), 0U);
}

// The hash helper's way (hash_helper.cpp): argon2's release of the kept memory leaves it to be
// wiped once the answer is sent; a wipe still pending when argon2 asks again is done first.
// The VmFlags of the mapping of /proc/self/smaps that holds p ("" when none does).
std::string vm_flags_at(const void* p) {
    std::ifstream smaps("/proc/self/smaps");
    const auto at = reinterpret_cast<std::uintptr_t>(p);
    bool inside = false;
    for (std::string line; std::getline(smaps, line);) {
        unsigned long long from = 0;
        unsigned long long to = 0;
        char dash = 0;
        std::istringstream range(line);
        if (line.find(':') > line.find(' ') && range >> std::hex >> from >> dash >> to &&
            dash == '-') {
            inside = at >= from && at < to;
        } else if (inside && line.rfind("VmFlags:", 0) == 0) {
            return line;
        }
    }
    return "";
}

bool has_flag(const std::string& vm_flags, const std::string& flag) {
    std::istringstream words(vm_flags);
    for (std::string w; words >> w;) {
        if (w == flag) {
            return true;
        }
    }
    return false;
}

// The kept memory holds what argon2 computed from passwords: it is left out of core dumps
// (MADV_DONTDUMP, "dd" in smaps), and so is the larger region it grows into.
TEST_F(Argon2MemoryTest, TheKeptMemoryIsLeftOutOfCoreDumps) {
    if (!enable_argon2_memory(2 * mib)) {
        EXPECT_FALSE(argon2_memory_built_in());
        EXPECT_EQ(argon2_memory_region(), nullptr);
        return;
    }
    const auto first = vm_flags_at(argon2_memory_region());
    ASSERT_NE(first, "") << "no mapping holds the kept memory";
    EXPECT_TRUE(has_flag(first, "dd")) << first;
    const std::string phc = hash(4 * mib);  // grows it
    ASSERT_EQ(grown(), 1U);
    const auto grown_flags = vm_flags_at(argon2_memory_region());
    EXPECT_TRUE(has_flag(grown_flags, "dd")) << grown_flags;
    // The check can fail: the heap, which nobody advised, is dumped.
    const auto heap = std::make_unique<char[]>(64);
    EXPECT_FALSE(has_flag(vm_flags_at(heap.get()), "dd"));
}

TEST_F(Argon2MemoryTest, DeferredWipesWaitForTheCallerAndComeBeforeTheNextLoan) {
    const bool on = enable_argon2_memory(2 * mib);
    defer_argon2_memory_wipe(true);
    const std::string phc = hash(2 * mib);
    EXPECT_EQ(argon2_memory_nonzero_bytes() > 0, on);  // the hash's blocks, until wiped
    EXPECT_EQ(argon2_memory_wipe(), on);
    EXPECT_EQ(argon2_memory_nonzero_bytes(), 0U);
    EXPECT_FALSE(argon2_memory_wipe());  // nothing left to wipe

    // Two calls with no wipe between: the second still gets the right answer, over memory the
    // first's blocks were wiped from; a smaller call's loan leaves the rest of the region zero.
    EXPECT_TRUE(verify(phc, password));
    const std::string small = hash(mib);
    EXPECT_TRUE(verify(small, password));
    EXPECT_FALSE(verify(small, "wrong"));
    const auto stats = argon2_memory_stats_now();
    EXPECT_EQ(lent(), on ? 5U : 0U);
    EXPECT_EQ(stats.region_bytes, on ? 2 * mib : 0U);
    if (on) {
        const char* const region = static_cast<const char*>(argon2_memory_region());
        ASSERT_NE(region, nullptr);
        std::size_t nonzero_beyond = 0;
        for (std::size_t i = mib; i < 2 * mib; ++i) {
            nonzero_beyond += region[i] != 0 ? 1 : 0;
        }
        EXPECT_EQ(nonzero_beyond, 0U);  // the 2 MiB verification's blocks were wiped
        EXPECT_GT(argon2_memory_nonzero_bytes(), 0U);
    }
    defer_argon2_memory_wipe(false);  // switched off: what is pending is wiped now
    EXPECT_EQ(argon2_memory_nonzero_bytes(), 0U);
    EXPECT_FALSE(hash(mib).empty());
    EXPECT_EQ(argon2_memory_nonzero_bytes(), 0U);  // off again: wiped at the release
}

// Last: an unexpected release of part of the kept memory (not libsodium 1.0.18's way) turns the
// mechanism off for good: the kept memory is unmapped, and argon2 goes on with the kernel's.
TEST_F(Argon2MemoryTest, ZAnUnexpectedReleaseRetiresIt) {
    if (!enable_argon2_memory(2 * mib)) {
        GTEST_SKIP() << "not built in";
    }
    char* const region = static_cast<char*>(argon2_memory_region());
    ASSERT_NE(region, nullptr);
    EXPECT_EQ(munmap(region + mib, 4096), 0);
    const auto stats = argon2_memory_stats_now();
    EXPECT_FALSE(stats.active);
    EXPECT_TRUE(stats.retired);
    EXPECT_EQ(stats.region_bytes, 0U);
    unsigned char resident = 0;
    errno = 0;
    EXPECT_EQ(mincore(region, 4096, &resident), -1);  // unmapped: nothing left behind
    EXPECT_EQ(errno, ENOMEM);
    EXPECT_FALSE(enable_argon2_memory(mib));
    const std::string phc = hash(mib);
    EXPECT_TRUE(verify(phc, password));
    EXPECT_EQ(lent(), 0U);
}

}  // namespace
