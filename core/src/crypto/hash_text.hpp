// Text helpers of the imported hash formats (foreign_hash_parse.cpp, foreign_hash_verify.cpp),
// private to core/: splitting, numbers, base64 variants, crypt's alphabet, constant-time equality.
#pragma once

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/crypto.h>
#include <sodium.h>

namespace authd::detail {

inline bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

inline bool equal_in_constant_time(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

inline std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> parts;
    for (;;) {
        const auto at = s.find(sep);
        parts.push_back(s.substr(0, at));
        if (at == std::string_view::npos) {
            return parts;
        }
        s.remove_prefix(at + 1);
    }
}

inline bool parse_number(std::string_view text, std::uint64_t& value) {
    if (text.empty() || text.size() > 19 || (text.size() > 1 && text[0] == '0')) {
        return false;
    }
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return ec == std::errc() && ptr == text.data() + text.size();
}

// Decodes base64 with libsodium (variant: sodium_base64_VARIANT_*); false unless all of text is
// valid and decodes to min..max bytes.
inline bool decode_base64(std::string_view text, int variant, std::string& out, std::size_t min,
                          std::size_t max) {
    out.resize(text.size());
    std::size_t length = 0;
    const char* end = nullptr;
    if (text.empty() ||
        sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                          text.size(), nullptr, &length, &end, variant) != 0 ||
        end != text.data() + text.size() || length < min || length > max) {
        return false;
    }
    out.resize(length);
    return true;
}

// passlib's "adapted base64": '.' for '+', no padding.
inline bool decode_ab64(std::string_view text, std::string& out, std::size_t min, std::size_t max) {
    std::string standard(text);
    for (char& c : standard) {
        if (c == '.') {
            c = '+';
        } else if (c == '+') {
            return false;
        }
    }
    return decode_base64(standard, sodium_base64_VARIANT_ORIGINAL_NO_PADDING, out, min, max);
}

// The value of one character of crypt's base64 alphabet ("./0-9A-Za-z"), or -1.
inline int crypt64_value(char c) {
    constexpr std::string_view alphabet =
        "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const auto at = alphabet.find(c);
    return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

inline bool crypt64_chars(std::string_view s) {
    for (const char c : s) {
        if (crypt64_value(c) < 0) {
            return false;
        }
    }
    return true;
}

struct key_values {
    std::uint64_t a = 0, b = 0, c = 0;
};

// "ka=1,kb=2,kc=3" with exactly these keys in this order.
inline bool parse_three(std::string_view text, std::array<std::string_view, 3> keys,
                        key_values& out) {
    const auto items = split(text, ',');
    if (items.size() != 3) {
        return false;
    }
    std::uint64_t* values[] = {&out.a, &out.b, &out.c};
    for (std::size_t i = 0; i < 3; ++i) {
        const auto eq = items[i].find('=');
        if (eq == std::string_view::npos || items[i].substr(0, eq) != keys[i] ||
            !parse_number(items[i].substr(eq + 1), *values[i])) {
            return false;
        }
    }
    return true;
}

// The bcrypt hash inside a Django bcrypt or bcrypt_sha256 string.
inline std::string_view django_bcrypt_inner(std::string_view h) {
    return h.substr(h.find('$') + 1);
}

}  // namespace authd::detail
