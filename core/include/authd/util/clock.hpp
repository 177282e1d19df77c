// The wall clock in Unix seconds: token times (iat, exp), revocations, cutoffs, stored dates.
#pragma once

#include <cstdint>
#include <ctime>

namespace authd {

inline std::int64_t unix_now() noexcept {
    return static_cast<std::int64_t>(std::time(nullptr));
}

}  // namespace authd
