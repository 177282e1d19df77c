#include "authd/api.hpp"

#include <array>
#include <cstdio>

namespace authd {

unsigned http_status(api_code code) noexcept {
    switch (code) {
        case api_code::ok:
            return 200;
        case api_code::invalid_token:
            return 401;
        case api_code::field_missing:  // the seed's 402 is a client error, not "Payment Required"
        case api_code::bad_request:
            return 400;
        case api_code::not_found:  // "Data not found." and an unknown path alike
            return 404;
        case api_code::method_not_allowed:
            return 405;
        case api_code::payload_too_large:
            return 413;
        case api_code::too_many_attempts:
            return 429;
        case api_code::headers_too_large:
            return 431;
        case api_code::busy:
            return 503;
        case api_code::internal_error:
            return 500;
    }
    return 500;
}

std::string_view reason_phrase(unsigned status) noexcept {
    switch (status) {
        case 200:
            return "OK";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 413:
            return "Content Too Large";
        case 429:
            return "Too Many Requests";
        case 431:
            return "Request Header Fields Too Large";
        case 503:
            return "Service Unavailable";
        default:
            return "Internal Server Error";
    }
}

std::string_view field_name(credential_field f) noexcept {
    switch (f) {
        case credential_field::password:
            return "Password";
        case credential_field::user_name:
            return "User-Name";
        case credential_field::token:
            return "Token";
    }
    return "Token";
}

namespace {

std::string field_message(credential_field f, std::string_view tail) {
    std::string out = "Required field < ";
    out += field_name(f);
    out += " > ";
    out += tail;
    return out;
}

}  // namespace

std::string message_field_missing(credential_field f) {
    return field_message(f, "is not specified.");
}

std::string message_field_empty(credential_field f) {
    return field_message(f, "is empty.");
}

std::string message_field_duplicated(credential_field f) {
    std::string out = "Field < ";
    out += field_name(f);
    out += " > is duplicated.";
    return out;
}

std::string message_too_many_attempts(std::uint32_t retry_after_seconds) {
    return "Too many attempts. Retry in " + std::to_string(retry_after_seconds) + " s.";
}

std::string error_body(api_code code, std::string_view message) {
    std::string out = "{\"code\":";
    out += std::to_string(static_cast<unsigned>(code));
    out += ",\"status\":\"error\",\"message\":\"";
    append_json_escaped(out, message);
    out += "\"}";
    return out;
}

std::string token_body(std::string_view token) {
    std::string out;
    out.reserve(40 + token.size());
    out += R"({"code":200,"status":"ok","token":")";
    out += token;
    out += "\"}";
    return out;
}

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

std::string verified_body(std::string_view user, std::int64_t exp) {
    std::string out = R"({"code":200,"status":"ok","user":")";
    append_json_escaped(out, user);
    out += R"(","exp":)";
    out += std::to_string(exp);
    out += '}';
    return out;
}

std::string_view ok_body() noexcept {
    return R"({"code":200,"status":"ok"})";
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
