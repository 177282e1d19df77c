#include "authd/http/http_response.hpp"

#include <regex>

#include <gtest/gtest.h>

namespace authd {
namespace {

TEST(HttpResponse, HeadOfAKeepAliveOk) {
    std::string head;
    write_response_head(head, api_code::ok, 42, true, 11);
    EXPECT_TRUE(std::regex_match(
        head,
        std::regex("HTTP/1\\.1 200 OK\r\nServer: authd\r\n"
                   "Date: [A-Z][a-z]{2}, \\d\\d [A-Z][a-z]{2} \\d{4} \\d\\d:\\d\\d:\\d\\d GMT\r\n"
                   "Content-Type: application/json\r\nCache-Control: no-store\r\n"
                   "Content-Length: 42\r\n\r\n")))
        << head;
}

TEST(HttpResponse, CloseAndHttp10KeepAliveAreExplicit) {
    std::string head;
    write_response_head(head, api_code::field_missing, 1, false, 11);
    EXPECT_EQ(head.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0U);
    EXPECT_NE(head.find("\r\nConnection: close\r\n"), std::string::npos);
    write_response_head(head, api_code::ok, 1, true, 10);
    EXPECT_NE(head.find("\r\nConnection: keep-alive\r\n"), std::string::npos);
    write_response_head(head, api_code::ok, 1, true, 11);
    EXPECT_EQ(head.find("Connection:"), std::string::npos);
}

TEST(HttpResponse, StatusSpecificHeaders) {
    std::string head;
    write_response_head(head, api_code::method_not_allowed, 1, true, 11);
    EXPECT_NE(head.find("\r\nAllow: GET, POST\r\n"), std::string::npos);
    write_response_head(head, api_code::busy, 1, true, 11, 1);
    EXPECT_EQ(head.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0U);
    EXPECT_NE(head.find("\r\nRetry-After: 1\r\n"), std::string::npos);
    write_response_head(head, api_code::too_many_attempts, 1, true, 11, 42);
    EXPECT_EQ(head.rfind("HTTP/1.1 429 Too Many Requests\r\n", 0), 0U);
    EXPECT_NE(head.find("\r\nRetry-After: 42\r\n"), std::string::npos);
    write_response_head(head, api_code::ok, 1, true, 11);
    EXPECT_EQ(head.find("Retry-After"), std::string::npos);
}

TEST(HttpResponse, DateIsImfFixdate) {
    EXPECT_EQ(http_date_now().size(), 29U);
    EXPECT_EQ(http_date_now().substr(26), "GMT");
}

}  // namespace
}  // namespace authd
