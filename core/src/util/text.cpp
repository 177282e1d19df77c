#include "authd/util/text.hpp"

#include <cstdint>

namespace authd {

void append_json_escaped(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    // Runs of characters that need no escape are appended whole (request log lines and bodies
    // are nearly all such characters).
    std::size_t run = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto u = static_cast<unsigned char>(s[i]);
        const bool quote = u == '"' || u == '\\';
        if (!quote && u >= 0x20 && u != 0x7f) {
            continue;
        }
        out.append(s.data() + run, i - run);
        if (quote) {
            out += '\\';
            out += s[i];
        } else {
            out += "\\u00";
            out += hex[u >> 4];
            out += hex[u & 0xf];
        }
        run = i + 1;
    }
    out.append(s.data() + run, s.size() - run);
}

std::size_t utf8_sequence_length(std::string_view s) noexcept {
    if (s.empty()) {
        return 0;
    }
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const unsigned char c = *p;
    if (c < 0x80) {
        return 1;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if ((c & 0xe0) == 0xc0) {
        len = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (s.size() < len) {
        return 0;
    }
    for (std::size_t i = 1; i < len; ++i) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return len;
}

bool is_valid_utf8(std::string_view s) noexcept {
    std::size_t i = 0;
    while (i < s.size()) {
        if (static_cast<unsigned char>(s[i]) < 0x80) {
            ++i;
            continue;
        }
        const auto len = utf8_sequence_length(s.substr(i));
        if (len == 0) {
            return false;
        }
        i += len;
    }
    return true;
}

}  // namespace authd
