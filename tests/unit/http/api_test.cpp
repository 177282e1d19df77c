#include "authd/http/api.hpp"

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

}  // namespace
}  // namespace authd
