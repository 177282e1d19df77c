#include "authd/util/units.hpp"

#include <charconv>
#include <cstdint>
#include <stdexcept>

namespace authd {

std::chrono::seconds parse_duration(std::string_view text) {
    long long value = 0;
    const auto* begin = text.data();
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(begin, end, value);
    const std::string_view unit(ptr, static_cast<std::size_t>(end - ptr));
    long long scale = 0;
    if (unit.empty() || unit == "s") {
        scale = 1;
    } else if (unit == "m") {
        scale = 60;
    } else if (unit == "h") {
        scale = 3600;
    } else if (unit == "d") {
        scale = 86400;
    }
    if (ec != std::errc() || ptr == begin || scale == 0 || value <= 0 ||
        value > 366LL * 86400 / scale) {
        throw std::invalid_argument("not a duration: '" + std::string(text) +
                                    "' (use a positive number with s, m, h or d)");
    }
    return std::chrono::seconds(value * scale);
}

std::string format_duration(std::chrono::seconds d) {
    const auto s = d.count();
    if (s > 60) {
        for (const auto& [scale, unit] : {std::pair{86400LL, "d"}, {3600LL, "h"}, {60LL, "m"}}) {
            if (s % scale == 0) {
                return std::to_string(s / scale) + unit;
            }
        }
    }
    return std::to_string(s) + "s";
}

std::size_t parse_size(std::string_view text) {
    std::size_t value = 0;
    const auto* begin = text.data();
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(begin, end, value);
    if (ec != std::errc() || ptr == begin) {
        throw std::invalid_argument("not a size: '" + std::string(text) + "'");
    }
    const std::string_view unit(ptr, static_cast<std::size_t>(end - ptr));
    std::size_t scale = 1;
    if (unit.empty() || unit == "B") {
        scale = 1;
    } else if (unit == "KiB" || unit == "K") {
        scale = 1024;
    } else if (unit == "MiB" || unit == "M") {
        scale = std::size_t{1024} * 1024;
    } else if (unit == "GiB" || unit == "G") {
        scale = std::size_t{1024} * 1024 * 1024;
    } else {
        throw std::invalid_argument("not a size: '" + std::string(text) +
                                    "' (use B, KiB, MiB or GiB)");
    }
    if (value > SIZE_MAX / scale) {
        throw std::invalid_argument("size too large: '" + std::string(text) + "'");
    }
    return value * scale;
}

std::string format_size(std::size_t bytes) {
    for (const auto& [scale, unit] : {std::pair{std::size_t{1} << 30, "GiB"},
                                      {std::size_t{1} << 20, "MiB"},
                                      {std::size_t{1} << 10, "KiB"}}) {
        if (bytes != 0 && bytes % scale == 0) {
            return std::to_string(bytes / scale) + unit;
        }
    }
    return std::to_string(bytes);
}

}  // namespace authd
