// util/text: JSON string escaping and UTF-8 checks (the suite names are those these tests had in
// api_test.cpp, where they were first written).
#include "authd/util/text.hpp"

#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace authd {
namespace {

TEST(ApiBodies, JsonEscapingOfEveryKindOfCharacter) {
    struct row {
        std::string_view in;
        std::string_view out;
    };
    const row rows[] = {
        {"", ""},
        {"plain", "plain"},
        {"\"", "\\\""},
        {"a\\b", "a\\\\b"},
        {"\"quoted\" and \\", "\\\"quoted\\\" and \\\\"},
        {std::string_view("\0x", 2), "\\u0000x"},
        {"\n\t\x1f", "\\u000a\\u0009\\u001f"},
        {"del\x7f", "del\\u007f"},
        {"J\xc3\xa9r\xc3\xb4me", "J\xc3\xa9r\xc3\xb4me"},  // UTF-8 passes through
        {" ~", " ~"},
    };
    for (const auto& r : rows) {
        std::string out = "prefix:";
        append_json_escaped(out, r.in);
        EXPECT_EQ(out, "prefix:" + std::string(r.out)) << testing::PrintToString(std::string(r.in));
    }
}

TEST(Utf8, AcceptsWellFormedRejectsTheRest) {
    struct row {
        std::string_view text;
        bool valid;
    };
    const row rows[] = {
        {"", true},
        {"user_test", true},
        {"J\xc3\xa9r\xc3\xb4me", true},      // Jérôme
        {"\xe6\x97\xa5\xe6\x9c\xac", true},  // 日本
        {"\xf0\x9f\x94\x91", true},          // U+1F511
        {"\xc3", false},                     // truncated
        {"\xc0\xaf", false},                 // overlong '/'
        {"\xed\xa0\x80", false},             // surrogate U+D800
        {"\xf4\x90\x80\x80", false},         // above U+10FFFF
        {"\xff", false},                     // never valid
        {"ab\x80", false},                   // lone continuation byte
    };
    for (const auto& r : rows) {
        EXPECT_EQ(is_valid_utf8(r.text), r.valid) << testing::PrintToString(std::string(r.text));
    }
}

}  // namespace
}  // namespace authd
