#include "common.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unistd.h>

#ifndef AUTHD_BIN
#error "AUTHD_BIN must name the authd binary (tests/CMakeLists.txt)"
#endif
#ifndef AUTHCTL_BIN
#error "AUTHCTL_BIN must name the authctl binary (tests/CMakeLists.txt)"
#endif
#ifndef AUTHD_TESTS_DIR
#error "AUTHD_TESTS_DIR must name the tests/ source directory (tests/CMakeLists.txt)"
#endif

namespace authd_it {

namespace {

// A peer that closed must not kill the test binary: writes report EPIPE instead. (Children get
// the default disposition back, see spawn().)
[[maybe_unused]] const bool sigpipe_ignored = [] {
    std::signal(SIGPIPE, SIG_IGN);
    return true;
}();

}  // namespace

namespace detail {

std::string errno_text(const char* what) {
    return std::string(what) + ": " + std::strerror(errno);
}

int remaining_ms(clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    return static_cast<int>(std::max<std::int64_t>(0, left.count()));
}

}  // namespace detail

// --- paths -----------------------------------------------------------------------------------

std::string authd_bin() {
    return AUTHD_BIN;
}
std::string authctl_bin() {
    return AUTHCTL_BIN;
}
std::string tests_dir() {
    return AUTHD_TESTS_DIR;
}

std::string python_bin() {
    if (const char* p = std::getenv("AUTHD_TEST_PYTHON"); p != nullptr && *p != '\0') {
        return p;
    }
    if (::access("/usr/bin/python3", X_OK) == 0) {
        return "/usr/bin/python3";
    }
    return "python3";
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace authd_it
