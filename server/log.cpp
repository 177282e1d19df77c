#include "log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <unistd.h>

#include "authd/api.hpp"

namespace authd::server {

namespace {

std::atomic<log_level> min_level{log_level::info};

std::string_view level_name(log_level level) {
    switch (level) {
        case log_level::debug:
            return "debug";
        case log_level::info:
            return "info";
        case log_level::warn:
            return "warn";
        case log_level::error:
            return "error";
    }
    return "info";
}

void append_time(std::string& out) {
    const auto now = std::chrono::system_clock::now();
    const auto secs = std::chrono::system_clock::to_time_t(now);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char text[40];
    const auto n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
    out.append(text, n);
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(millis));
    out += frac;
}

void append_field(std::string& out, std::string_view key, std::string_view value) {
    out += ",\"";
    append_json_escaped(out, key);
    out += "\":\"";
    append_json_escaped(out, value);
    out += '"';
}

}  // namespace

void set_log_level(log_level level) {
    min_level.store(level);
}

bool log_enabled(log_level level) {
    return level >= min_level.load(std::memory_order_relaxed);
}

void log(log_level level, std::string_view event, std::initializer_list<log_field> fields) {
    if (!log_enabled(level)) {
        return;
    }
    std::string line = "{\"time\":\"";
    append_time(line);
    line += '"';
    append_field(line, "level", level_name(level));
    append_field(line, "event", event);
    for (const auto& [key, value] : fields) {
        append_field(line, key, value);
    }
    line += "}\n";
    // One write(2) per line: lines from several threads never interleave.
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        const ssize_t n = ::write(STDERR_FILENO, p, left);
        if (n <= 0) {
            return;
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

}  // namespace authd::server
