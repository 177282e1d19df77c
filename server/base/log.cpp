#include "base/log.hpp"

#include <atomic>
#include <chrono>
#include <ctime>
#include <string>
#include <unistd.h>

#include "authd/util/text.hpp"

namespace authd::server {

namespace {

std::atomic<log_level> min_level{log_level::info};

void append_time(std::string& out) {
    const auto now = std::chrono::system_clock::now();
    const auto secs = std::chrono::system_clock::to_time_t(now);
    const auto millis = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000);
    // The date and time to the second are formatted once a second per thread (request lines
    // come thousands a second); the milliseconds, each time.
    thread_local std::time_t cached_secs = -1;
    thread_local char text[40];
    thread_local std::size_t text_size = 0;
    if (secs != cached_secs) {
        std::tm tm{};
        gmtime_r(&secs, &tm);
        text_size = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_secs = secs;
    }
    out.append(text, text_size);
    const char frac[] = {'.', static_cast<char>('0' + millis / 100),
                         static_cast<char>('0' + millis / 10 % 10),
                         static_cast<char>('0' + millis % 10), 'Z'};
    out.append(frac, sizeof frac);
}

// A value is written so that distinct byte strings always give distinct text, and the line stays
// valid JSON whatever the bytes (a user name comes from a client): the string a JSON parser reads
// back is the value with each backslash doubled and each byte that is not part of well-formed
// UTF-8 written as the four characters \xHH. So the name "jos\xE9" (Latin-1 bytes) reads back
// as jos\xE9, distinct from "josé" and from a name of the characters j o s \ x E 9, which reads
// back as jos\\xE9 (docs/operations.md, "Log lines").
void append_value(std::string& out, std::string_view value) {
    if (value.find('\\') == std::string_view::npos && is_valid_utf8(value)) {
        append_json_escaped(out, value);  // nearly every value: one run, appended whole
        return;
    }
    static constexpr char hex[] = "0123456789ABCDEF";
    std::size_t i = 0;
    while (i < value.size()) {
        const auto u = static_cast<unsigned char>(value[i]);
        if (u == '\\') {
            out += R"(\\\\)";  // two backslashes once read back
            ++i;
            continue;
        }
        const auto len = utf8_sequence_length(value.substr(i));
        if (len == 0) {
            out += R"(\\x)";  // a backslash and an x once read back
            out += hex[u >> 4];
            out += hex[u & 0xf];
            ++i;
            continue;
        }
        append_json_escaped(out, value.substr(i, len));
        i += len;
    }
}

void append_field(std::string& out, std::string_view key, std::string_view value) {
    out += ",\"";
    append_json_escaped(out, key);
    out += "\":\"";
    append_value(out, value);
    out += '"';
}

}  // namespace

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

void set_log_level(log_level level) {
    min_level.store(level);
}

bool log_enabled(log_level level) {
    return level >= min_level.load(std::memory_order_relaxed);
}

void format_log_line(std::string& out, log_level level, std::string_view event,
                     std::initializer_list<log_field> fields) {
    out += "{\"time\":\"";
    append_time(out);
    out += '"';
    append_field(out, "level", level_name(level));
    append_field(out, "event", event);
    for (const auto& [key, value] : fields) {
        append_field(out, key, value);
    }
    out += "}\n";
}

void write_log_lines(std::string_view lines) {
    const char* p = lines.data();
    std::size_t left = lines.size();
    while (left > 0) {
        const ssize_t n = ::write(STDERR_FILENO, p, left);
        if (n <= 0) {
            return;
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

void log(log_level level, std::string_view event, std::initializer_list<log_field> fields) {
    if (!log_enabled(level)) {
        return;
    }
    std::string line;
    format_log_line(line, level, event, fields);
    write_log_lines(line);
}

}  // namespace authd::server
