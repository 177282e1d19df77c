// What a login leaves in authd's memory once it is answered (docs/security.md, "Secrets in
// memory"): the password, looked for in authd's own writable memory through /proc/PID/mem, as
// another process with the right to read it (root: authd is not dumpable) or a core dump would
// find it. A connection's read buffer held the raw request ("Password: ...") whole after the
// connection closed or parked, until the allocator reused it.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fcntl.h>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unistd.h>
#include <vector>

#include "harness.hpp"

namespace authd_it {
namespace {

struct region {
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
};

// The writable mappings of pid (its heap, its threads' stacks, anonymous memory).
std::vector<region> writable_regions(pid_t pid) {
    std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
    std::vector<region> out;
    std::string line;
    while (std::getline(maps, line)) {
        std::istringstream fields(line);
        std::string range;
        std::string perms;
        fields >> range >> perms;
        if (perms.size() < 2 || perms[0] != 'r' || perms[1] != 'w') {
            continue;
        }
        const auto dash = range.find('-');
        out.push_back({std::stoull(range.substr(0, dash), nullptr, 16),
                       std::stoull(range.substr(dash + 1), nullptr, 16)});
    }
    return out;
}

// How many times needle occurs in pid's writable memory; -1 when it cannot be read.
long occurrences(pid_t pid, std::string_view needle) {
    const int fd = ::open(("/proc/" + std::to_string(pid) + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    constexpr std::uint64_t step = std::uint64_t{1} << 20;
    long found = 0;
    std::string window;
    for (const auto& r : writable_regions(pid)) {
        // Windows overlap by needle.size() - 1 bytes; a match counts in the window it starts in.
        for (std::uint64_t at = r.begin; at < r.end; at += step) {
            window.resize(std::min<std::uint64_t>(step + needle.size() - 1, r.end - at));
            const auto got = ::pread(fd, window.data(), window.size(), static_cast<off_t>(at));
            if (got <= 0) {
                break;  // not readable (a guard page)
            }
            window.resize(static_cast<std::size_t>(got));
            for (auto pos = window.find(needle); pos != std::string::npos && pos < step;
                 pos = window.find(needle, pos + 1)) {
                ++found;
            }
        }
    }
    ::close(fd);
    return found;
}

std::string random_text(std::size_t size) {
    static constexpr std::string_view alphabet = "abcdefghijkmnpqrstuvwxyz23456789";
    std::random_device device;
    std::string out;
    for (std::size_t i = 0; i < size; ++i) {
        out += alphabet[device() % alphabet.size()];
    }
    return out;
}

class MemoryResidueTest : public authd_test {};

// Wrong passwords, one long (a heap string) and one of 11 bytes (kept inside a std::string
// object, where a move leaves it behind), each on a connection that closes, and one more on a
// connection left open, which authd parks within half a second: none of them may stay anywhere
// in authd's writable memory.
TEST_F(MemoryResidueTest, APasswordLeavesNoCopyInAuthdOnceAnswered) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "reading the memory of a process that is not dumpable needs root";
    }
    if (built_with_sanitizer) {
        // ASan and TSan map terabytes of shadow memory, writable, that a scan would read for
        // hours, and keep freed blocks in quarantines of their own: the plain build is the one
        // whose memory is authd's.
        GTEST_SKIP() << "a sanitizer build's memory is mostly the sanitizer's";
    }
    env_.add_user("user_test", "password_test");
    start();
    const std::string long_password = "canary-" + random_text(32);
    const std::string short_password = "c-" + random_text(9);
    const std::string parked_password = "parked-" + random_text(24);
    for (const auto& password : {long_password, short_password}) {
        http_client client(port());
        EXPECT_EQ(client.roundtrip(login_request("user_test", password)).body(), not_found_body);
    }
    http_client kept(port());
    EXPECT_EQ(kept.roundtrip(login_request("user_test", parked_password)).body(), not_found_body);
    // The canaries must be findable: this test's own copies are in its memory, read the same way.
    ASSERT_GE(occurrences(::getpid(), long_password), 1) << "/proc/PID/mem cannot be read here";
    for (const auto& password : {long_password, short_password, parked_password}) {
        SCOPED_TRACE(password);
        // authd closes and parks on its own time: give it that, not forever.
        long left = 0;
        const auto until = std::chrono::steady_clock::now() + 10s;
        while ((left = occurrences(server().pid(), password)) != 0 &&
               std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(100ms);
        }
        EXPECT_EQ(left, 0) << "copies of the password in authd's memory";
    }
}

}  // namespace
}  // namespace authd_it
