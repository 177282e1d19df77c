#include "authd/api.hpp"

#include <string_view>

#include <gtest/gtest.h>

namespace authd {
namespace {

// Every row of docs/api.md's "Common API codes" table: body code, HTTP status, reason phrase.
struct code_row {
    api_code code;
    unsigned body_code;
    unsigned status;
    std::string_view reason;
};

constexpr code_row code_table[] = {
    {api_code::ok, 200, 200, "OK"},
    {api_code::bad_request, 400, 400, "Bad Request"},
    {api_code::invalid_token, 401, 401, "Unauthorized"},
    {api_code::field_missing, 402, 400, "Bad Request"},
    {api_code::not_found, 404, 404, "Not Found"},
    {api_code::method_not_allowed, 405, 405, "Method Not Allowed"},
    {api_code::payload_too_large, 413, 413, "Content Too Large"},
    {api_code::too_many_attempts, 429, 429, "Too Many Requests"},
    {api_code::headers_too_large, 431, 431, "Request Header Fields Too Large"},
    {api_code::internal_error, 500, 500, "Internal Server Error"},
    {api_code::busy, 503, 503, "Service Unavailable"},
};

TEST(ApiCodes, BodyCodeHttpStatusAndReason) {
    for (const auto& row : code_table) {
        SCOPED_TRACE(row.body_code);
        EXPECT_EQ(static_cast<unsigned>(row.code), row.body_code);
        EXPECT_EQ(http_status(row.code), row.status);
        EXPECT_EQ(reason_phrase(row.status), row.reason);
    }
}

// The seed's messages, byte for byte.
struct message_row {
    std::string actual;
    std::string_view expected;
};

TEST(ApiMessages, SeedMessages) {
    const message_row rows[] = {
        {message_field_missing(credential_field::password),
         "Required field < Password > is not specified."},
        {message_field_missing(credential_field::user_name),
         "Required field < User-Name > is not specified."},
        {message_field_empty(credential_field::password), "Required field < Password > is empty."},
        {message_field_empty(credential_field::user_name),
         "Required field < User-Name > is empty."},
        {message_field_duplicated(credential_field::user_name),
         "Field < User-Name > is duplicated."},
        {std::string(msg_data_not_found), "Data not found."},
        {message_too_many_attempts(30), "Too many attempts. Retry in 30 s."},
    };
    for (const auto& row : rows) {
        EXPECT_EQ(row.actual, row.expected);
    }
}

TEST(ApiBodies, ErrorAndTokenBodiesHaveTheSeedsShape) {
    EXPECT_EQ(
        error_body(api_code::field_missing, message_field_missing(credential_field::password)),
        R"({"code":402,"status":"error","message":"Required field < Password > is not specified."})");
    EXPECT_EQ(error_body(api_code::not_found, msg_data_not_found),
              R"({"code":404,"status":"error","message":"Data not found."})");
    EXPECT_EQ(token_body("a.b.c"), R"({"code":200,"status":"ok","token":"a.b.c"})");
}

TEST(ApiBodies, MessagesAreJsonEscaped) {
    EXPECT_EQ(error_body(api_code::bad_request, "a\"b\\c\n\x01"),
              R"({"code":400,"status":"error","message":"a\"b\\c\u000a\u0001"})");
}

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
