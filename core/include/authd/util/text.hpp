// Text helpers every layer uses: JSON string escaping and UTF-8 checks.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace authd {

// Appends s to out as the inside of a JSON string (RFC 8259 section 7): quote, backslash and
// control characters escaped; other bytes copied as they are (the caller guarantees UTF-8).
void append_json_escaped(std::string& out, std::string_view s);

// True when s is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;

// The length (1 to 4) of the well-formed UTF-8 sequence that s begins with; 0 when s is empty or
// does not begin with one.
std::size_t utf8_sequence_length(std::string_view s) noexcept;

}  // namespace authd
