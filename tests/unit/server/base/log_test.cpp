// The log line formatter (server/base/log.cpp): every line is JSON, and distinct values give
// distinct lines whatever their bytes (a user name comes from a client and need not be UTF-8).
#include "base/log.hpp"

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace authd::server {
namespace {

// One line with value as its "user" field, read back by a JSON parser; nullopt-like "" with
// ok = false when the line is not one JSON object.
struct read_back {
    bool ok = false;
    std::string user;
};

read_back format_and_parse(std::string_view value, std::string& line) {
    line.clear();
    format_log_line(line, log_level::info, "login", {{"user", value}});
    read_back out;
    if (line.empty() || line.back() != '\n') {
        return out;
    }
    boost::system::error_code ec;
    const auto json = boost::json::parse(std::string_view(line).substr(0, line.size() - 1), ec);
    if (ec || !json.is_object() || !json.as_object().contains("user") ||
        !json.as_object().at("user").is_string()) {
        return out;
    }
    out.ok = true;
    out.user = std::string(json.as_object().at("user").as_string());
    return out;
}

// The inverse of the documented scheme (docs/operations.md): "\\" is a backslash, "\xHH" the
// byte 0xHH, anything else itself. Returns false on text the scheme never writes.
bool unescape(std::string_view text, std::string& bytes) {
    bytes.clear();
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\\') {
            bytes += text[i];
            continue;
        }
        if (i + 1 < text.size() && text[i + 1] == '\\') {
            bytes += '\\';
            ++i;
            continue;
        }
        if (i + 3 < text.size() && text[i + 1] == 'x') {
            bytes += static_cast<char>(std::stoi(std::string(text.substr(i + 2, 2)), nullptr, 16));
            i += 3;
            continue;
        }
        return false;
    }
    return true;
}

TEST(LogLine, NamesThatLookAlikeAreWrittenApart) {
    const std::vector<std::string> values = {
        "jos\xc3\xa9",   // josé in UTF-8
        "jos\xe9",       // josé in Latin-1: not UTF-8
        "jos\\xE9",      // the characters \ x E 9
        "jos\\xe9",      // in lower case
        "jos\\\\xE9",    // two backslashes
        "jos\\u00e9",    // the characters of a JSON escape
        "jos\xc3",       // a truncated sequence
        "\xc0\xaf",      // an overlong '/'
        "\xed\xa0\x80",  // a UTF-16 surrogate
        "a\"b",          // a quote
        "a\x01",         // a control character
        std::string("a\0b", 3),
        "",
    };
    std::set<std::string> lines;
    std::set<std::string> users;
    std::string line;
    for (const auto& value : values) {
        SCOPED_TRACE(testing::PrintToString(value));
        const auto back = format_and_parse(value, line);
        ASSERT_TRUE(back.ok) << line;
        EXPECT_TRUE(users.insert(back.user).second) << line;
        // Without its time, the line is the value's alone.
        EXPECT_TRUE(lines.insert(line.substr(line.find("\"level\""))).second) << line;
        std::string bytes;
        ASSERT_TRUE(unescape(back.user, bytes)) << line;
        EXPECT_EQ(bytes, value) << line;
    }
    std::string out;
    EXPECT_EQ(format_and_parse("jos\xc3\xa9", out).user, "jos\xc3\xa9");  // UTF-8 as it is
    EXPECT_EQ(format_and_parse("jos\xe9", out).user, "jos\\xE9");
    EXPECT_EQ(format_and_parse("jos\\xE9", out).user, "jos\\\\xE9");
    EXPECT_EQ(format_and_parse("user_test", out).user, "user_test");
}

// Many short strings of the bytes that matter: each line is JSON and reads back to its bytes, so
// no two strings share a line.
TEST(LogLine, EveryByteStringReadsBackToItself) {
    const unsigned char alphabet[] = {'\\', 'x',  'E',  '9',  'a',  '"',  0x00, 0x01, 0x7f,
                                      0x80, 0xa9, 0xc3, 0xe9, 0xed, 0xf0, 0x9f, 0xff};
    std::mt19937 random(12345);
    std::uniform_int_distribution<std::size_t> pick(0, sizeof alphabet - 1);
    std::uniform_int_distribution<std::size_t> length(0, 8);
    std::string line;
    std::string bytes;
    for (int i = 0; i < 20000; ++i) {
        std::string value;
        for (std::size_t n = length(random); n > 0; --n) {
            value += static_cast<char>(alphabet[pick(random)]);
        }
        const auto back = format_and_parse(value, line);
        ASSERT_TRUE(back.ok) << testing::PrintToString(value) << " " << line;
        ASSERT_TRUE(unescape(back.user, bytes)) << line;
        ASSERT_EQ(bytes, value) << line;
    }
}

}  // namespace
}  // namespace authd::server
