// What every part of the integration tests' harness uses: the paths of the binaries under test,
// whether they were built with a sanitizer, and small POSIX helpers of the harness's own files.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace authd_it {

// Whether this test binary (and so the authd beside it) is built with AddressSanitizer or
// ThreadSanitizer: their allocators keep freed memory (quarantine, per-thread caches) and their
// shadow grows with every page touched, so RSS says nothing of what authd itself holds.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool built_with_sanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool built_with_sanitizer = true;
#else
inline constexpr bool built_with_sanitizer = false;
#endif
#else
inline constexpr bool built_with_sanitizer = false;
#endif

using namespace std::chrono_literals;

// --- paths -----------------------------------------------------------------------------------

std::string authd_bin();
std::string authctl_bin();
std::string tests_dir();  // the source directory tests/ (jwt_check.py lives there)
// The interpreter for tests/jwt_check.py: $AUTHD_TEST_PYTHON, else /usr/bin/python3 (Debian's,
// where python3-jwt installs), else python3 on PATH.
std::string python_bin();

// The whole content of a file ("" when it cannot be read).
std::string read_file(const std::string& path);

// For the harness's own files.
namespace detail {

using clock = std::chrono::steady_clock;

// "what: strerror(errno)".
std::string errno_text(const char* what);
// The milliseconds left until deadline, 0 when it has passed (for poll).
int remaining_ms(clock::time_point deadline);

}  // namespace detail

}  // namespace authd_it
