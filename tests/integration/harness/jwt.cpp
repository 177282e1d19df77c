#include "jwt.hpp"

#include <algorithm>
#include <chrono>

namespace authd_it {

// --- JSON bodies and tokens ------------------------------------------------------------------

std::string error_body(int code, std::string_view message) {
    return "{\"code\":" + std::to_string(code) + ",\"status\":\"error\",\"message\":\"" +
           std::string(message) + "\"}";
}

std::optional<std::string> token_of(std::string_view body) {
    constexpr std::string_view prefix = R"({"code":200,"status":"ok","token":")";
    constexpr std::string_view suffix = R"("})";
    if (body.size() <= prefix.size() + suffix.size() || body.substr(0, prefix.size()) != prefix ||
        body.substr(body.size() - suffix.size()) != suffix) {
        return std::nullopt;
    }
    const auto token = body.substr(prefix.size(), body.size() - prefix.size() - suffix.size());
    std::size_t dots = 0;
    for (const char c : token) {
        const bool b64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (c == '.') {
            ++dots;
        } else if (!b64) {
            return std::nullopt;
        }
    }
    if (dots != 2) {
        return std::nullopt;
    }
    return std::string(token);
}

std::optional<std::string> base64url_decode(std::string_view text) {
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') {
            return c - 'A';
        }
        if (c >= 'a' && c <= 'z') {
            return c - 'a' + 26;
        }
        if (c >= '0' && c <= '9') {
            return c - '0' + 52;
        }
        if (c == '-') {
            return 62;
        }
        if (c == '_') {
            return 63;
        }
        return -1;
    };
    if (text.size() % 4 == 1) {
        return std::nullopt;
    }
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (const char c : text) {
        const int v = value(c);
        if (v < 0) {
            return std::nullopt;
        }
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    // The leftover bits of the last character must be zero (canonical encoding).
    if ((acc & ((1U << bits) - 1)) != 0) {
        return std::nullopt;
    }
    return out;
}

std::optional<jwt_parts> split_jwt(std::string_view token) {
    const auto first = token.find('.');
    if (first == std::string_view::npos) {
        return std::nullopt;
    }
    const auto second = token.find('.', first + 1);
    if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
        return std::nullopt;
    }
    auto payload = base64url_decode(token.substr(first + 1, second - first - 1));
    if (!payload) {
        return std::nullopt;
    }
    return jwt_parts{std::string(token.substr(0, first)), std::move(*payload),
                     std::string(token.substr(second + 1))};
}

std::optional<token_payload> parse_payload(std::string_view json) {
    constexpr std::string_view user_prefix = R"({"user":")";
    constexpr std::string_view exp_key = R"(","exp":)";
    if (json.substr(0, user_prefix.size()) != user_prefix || json.empty() || json.back() != '}') {
        return std::nullopt;
    }
    const auto user_end = json.find(exp_key, user_prefix.size());
    if (user_end == std::string_view::npos) {
        return std::nullopt;
    }
    const auto user = json.substr(user_prefix.size(), user_end - user_prefix.size());
    if (user.find_first_of("\"\\") != std::string_view::npos) {
        return std::nullopt;  // the tests' user names need no escaping
    }
    // Then the token id and the time of issue:
    // {"user":"...","exp":N,"jti":"<22 base64url characters>","iat":N}.
    constexpr std::string_view jti_key = R"(,"jti":")";
    constexpr std::string_view iat_key = R"(","iat":)";
    const auto jti_at = json.find(jti_key, user_end + exp_key.size());
    const auto iat_at = jti_at == std::string_view::npos ? jti_at : jti_at + jti_key.size() + 22;
    if (jti_at == std::string_view::npos || json.substr(iat_at, iat_key.size()) != iat_key) {
        return std::nullopt;
    }
    const auto iat =
        json.substr(iat_at + iat_key.size(), json.size() - 1 - iat_at - iat_key.size());
    if (iat.empty() || iat.size() > 18 ||
        !std::all_of(iat.begin(), iat.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    const auto digits = json.substr(user_end + exp_key.size(), jti_at - user_end - exp_key.size());
    if (digits.empty() || digits.size() > 18 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    return token_payload{std::string(user), std::stoll(std::string(digits))};
}

run_result jwt_check(const std::string& key_file, const std::string& user,
                     const std::string& token) {
    return run_command({python_bin(), tests_dir() + "/jwt_check.py"}, token + "\n",
                       {{"JWT_KEY_FILE", key_file}, {"JWT_EXPECTED_USER", user}}, 60s);
}

// authd's clock (core/include/authd/util/clock.hpp): CLOCK_REALTIME in whole seconds, never
// std::time(), which lags it for a few milliseconds after each second begins.
std::int64_t unix_now() {
    return std::chrono::floor<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace authd_it
