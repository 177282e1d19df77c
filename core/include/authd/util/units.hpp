// The units of settings: durations ("30m") and sizes ("19MiB"), read and written.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace authd {

// Parses a duration such as "30m", "90s", "1h" or a plain number of seconds. Throws
// std::invalid_argument on anything else, or when it is not positive.
std::chrono::seconds parse_duration(std::string_view text);

// A duration as parse_duration() reads it: in the largest of m, h and d that holds it whole, in
// seconds up to a minute ("60s", "15m", "1h").
std::string format_duration(std::chrono::seconds d);

// Parses a size such as "19MiB", "64KiB", "1GiB" or a plain number of bytes. Throws
// std::invalid_argument on anything else.
std::size_t parse_size(std::string_view text);

// A size as parse_size() reads it, in the largest of KiB, MiB and GiB that holds it whole
// ("19MiB", "4096" when it is not a whole KiB).
std::string format_size(std::size_t bytes);

}  // namespace authd
