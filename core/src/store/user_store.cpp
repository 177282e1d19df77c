// user_store's defaults and the user name rules shared by every backend.
#include "authd/store/user_store.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>

#include "authd/util/text.hpp"

namespace authd {

std::optional<login_record> user_store::find_login(std::string_view name) {
    auto phc = find_hash(name);
    if (!phc) {
        return std::nullopt;
    }
    return login_record{std::move(*phc), 0};
}

namespace {

bool is_ascii_control(char c) noexcept {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f;
}

// Characters that print as nothing, as a blank that is not a space, or that reorder the text
// after them: C1 controls, no-break and other spaces than U+0020, zero-width and bidirectional
// controls (RLO among them), the soft hyphen and the byte order mark. In a name they let one
// name pass for another on an operator's screen or in a log, and a C1 control (NEL, CSI) can
// drive a terminal. RFC 8264's IdentifierClass disallows all of them.
bool hidden_or_control(char32_t c) noexcept {
    return (c >= 0x80 && c <= 0xa0) || c == 0xad || c == 0x61c || c == 0x1680 || c == 0x180e ||
           (c >= 0x2000 && c <= 0x200f) || (c >= 0x2028 && c <= 0x202f) ||
           (c >= 0x205f && c <= 0x2064) || (c >= 0x2066 && c <= 0x206f) || c == 0x3000 ||
           c == 0xfeff || (c >= 0xfff9 && c <= 0xfffb);
}

// The code points of valid UTF-8 text, one at a time (at is moved past the one returned).
char32_t next_code_point(std::string_view text, std::size_t& at) noexcept {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char lead = byte(at);
    const std::size_t length = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
    char32_t c = length == 1 ? lead : lead & (0x7f >> length);
    for (std::size_t i = 1; i < length && at + i < text.size(); ++i) {
        c = (c << 6) | (byte(at + i) & 0x3f);
    }
    at += length;
    return c;
}

bool has_hidden_or_control(std::string_view name) noexcept {
    for (std::size_t at = 0; at < name.size();) {
        if (hidden_or_control(next_code_point(name, at))) {
            return true;
        }
    }
    return false;
}

}  // namespace

bool valid_stored_user_name(std::string_view name) noexcept {
    return !name.empty() && name.size() <= max_user_name_bytes && is_valid_utf8(name) &&
           std::none_of(name.begin(), name.end(), is_ascii_control);
}

bool valid_user_name(std::string_view name) noexcept {
    return valid_stored_user_name(name) && !has_hidden_or_control(name);
}

std::string printable_user_name(std::string_view name) {
    if (valid_user_name(name)) {
        return std::string(name);
    }
    constexpr std::string_view hex = "0123456789ABCDEF";
    std::string out;
    for (std::size_t at = 0; at < name.size();) {
        const auto length = utf8_sequence_length(name.substr(at));
        if (length == 0) {
            const auto byte = static_cast<unsigned char>(name[at++]);
            out += "\\x{";
            out += hex[byte >> 4];
            out += hex[byte & 0xf];
            out += '}';
            continue;
        }
        const auto start = at;
        const char32_t c = next_code_point(name, at);
        if (c < 0x20 || c == 0x7f || hidden_or_control(c)) {
            out += "\\u{";
            for (int shift = 12; shift >= 0; shift -= 4) {
                out += hex[(c >> shift) & 0xf];
            }
            out += '}';
        } else {
            out += name.substr(start, length);
        }
    }
    return out;
}

bool user_name_has_outer_space(std::string_view name) noexcept {
    return !name.empty() && (name.front() == ' ' || name.back() == ' ');
}

}  // namespace authd
