// One JSON object per line on standard error. Never given a password, token or key.
#pragma once

#include <initializer_list>
#include <string_view>
#include <utility>

namespace authd::server {

enum class log_level { debug, info, warn, error };

// A field of a log line; values are written as JSON strings that read back with each backslash
// doubled and each byte that is not UTF-8 as \xHH, so distinct values give distinct lines
// (docs/operations.md, "Log lines").
using log_field = std::pair<std::string_view, std::string_view>;

void set_log_level(log_level level);
// "debug", "info", "warn" or "error".
std::string_view level_name(log_level level);
bool log_enabled(log_level level);

// {"time":"2026-11-28T18:00:00.123Z","level":"info","event":"listening","address":"..."}
void log(log_level level, std::string_view event, std::initializer_list<log_field> fields = {});

// The same line, appended to out instead of written (for buffered request logs).
void format_log_line(std::string& out, log_level level, std::string_view event,
                     std::initializer_list<log_field> fields);

// Writes whole lines to standard error (one write(2) per call, so lines never interleave).
void write_log_lines(std::string_view lines);

}  // namespace authd::server
