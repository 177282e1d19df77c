// The wall clock in Unix seconds: token times (iat, exp), revocations, cutoffs, stored dates.
//
// One clock for authd and its tests: CLOCK_REALTIME, read as std::chrono::system_clock does. Not
// std::time(), which Linux answers from the coarse clock of the last timer tick: up to a few
// milliseconds after a second begins it still says the second before, so a token issued then
// had an iat one second before a test's "before" taken from system_clock (issue 27: 0.4 % of
// samples here, two false kills of mutants).
#pragma once

#include <chrono>
#include <cstdint>

namespace authd {

inline std::int64_t unix_now() noexcept {
    return std::chrono::floor<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace authd
