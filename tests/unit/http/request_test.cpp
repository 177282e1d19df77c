#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <gtest/gtest.h>

#include "authd/http/request_parser.hpp"
#include "authd/http/router.hpp"

namespace authd {
namespace {

namespace http = boost::beast::http;

// Parses raw in pieces of `split` bytes, as a socket might deliver it.
struct parsed {
    boost::beast::error_code ec;
    bool done = false;
    bool keep_alive = false;
};

parsed parse(request_head& head, std::string_view raw, std::size_t split = 0,
             request_limits limits = {}) {
    request_parser parser(head, limits);
    parser.eager(true);
    parsed out;
    std::string pending;
    std::size_t fed = 0;
    if (split == 0) {
        split = raw.size();
    }
    while (!parser.is_done()) {
        if (fed < raw.size()) {
            const auto n = std::min(split, raw.size() - fed);
            pending.append(raw.substr(fed, n));
            fed += n;
        }
        boost::beast::error_code ec;
        const auto used = parser.put(boost::asio::buffer(pending), ec);
        pending.erase(0, used);
        if (ec == http::error::need_more) {
            if (fed == raw.size()) {
                out.ec = ec;
                return out;
            }
            continue;
        }
        if (ec) {
            out.ec = ec;
            return out;
        }
    }
    out.done = true;
    out.keep_alive = parser.keep_alive();
    return out;
}

// The route a decision serves, or nullopt for a fixed response.
using served = std::optional<route>;
served served_by(const decision& d, const request_head& head) {
    return d.serve ? served(head.route) : std::nullopt;
}

struct decide_row {
    std::string_view name;
    std::string_view raw;
    served what;  // nullopt: a fixed response
    api_code code;
    std::string_view body;  // empty for a route's work
};

constexpr decide_row decide_table[] = {
    {"forward auth: any method", "DELETE /forward-auth HTTP/1.1\r\nHost: x\r\n\r\n",
     route::forward_auth, api_code::ok, ""},
    {"forward auth: a path below it", "PUT /forward-auth/app/page?q=1 HTTP/1.1\r\nHost: x\r\n\r\n",
     route::forward_auth, api_code::ok, ""},
    {"forward auth: not a prefix of another path", "GET /forward-authx HTTP/1.1\r\nHost: x\r\n\r\n",
     std::nullopt, api_code::not_found,
     R"({"code":404,"status":"error","message":"Path not found."})"},
    {"seed example",
     "GET /login HTTP/1.1\r\nHost: x\r\nPassword: password_test\r\nUser-Name: user_test\r\n\r\n",
     route::login, api_code::ok, ""},
    {"post with body",
     "POST /login HTTP/1.1\r\nHost: x\r\nPassword: p\r\nUser-Name: u\r\nContent-Length: "
     "5\r\n\r\nhello",
     route::login, api_code::ok, ""},
    {"query string ignored",
     "GET /login?x=1 HTTP/1.1\r\nHost: x\r\nPassword: p\r\nUser-Name: u\r\n\r\n", route::login,
     api_code::ok, ""},
    {"header names any case",
     "GET /login HTTP/1.1\r\nHost: x\r\npassword: p\r\nUSER-NAME: u\r\n\r\n", route::login,
     api_code::ok, ""},
    {"nothing: password first", "GET /login HTTP/1.1\r\nHost: x\r\n\r\n", std::nullopt,
     api_code::field_missing,
     R"({"code":402,"status":"error","message":"Required field < Password > is not specified."})"},
    {"no user name", "GET /login HTTP/1.1\r\nHost: x\r\nPassword: p\r\n\r\n", std::nullopt,
     api_code::field_missing,
     R"({"code":402,"status":"error","message":"Required field < User-Name > is not specified."})"},
    {"empty password", "GET /login HTTP/1.1\r\nHost: x\r\nPassword:\r\nUser-Name: u\r\n\r\n",
     std::nullopt, api_code::field_missing,
     R"({"code":402,"status":"error","message":"Required field < Password > is empty."})"},
    {"blank user name", "GET /login HTTP/1.1\r\nHost: x\r\nPassword: p\r\nUser-Name:   \r\n\r\n",
     std::nullopt, api_code::field_missing,
     R"({"code":402,"status":"error","message":"Required field < User-Name > is empty."})"},
    {"empty password before missing user", "GET /login HTTP/1.1\r\nHost: x\r\nPassword: \r\n\r\n",
     std::nullopt, api_code::field_missing,
     R"({"code":402,"status":"error","message":"Required field < Password > is empty."})"},
    {"duplicated password",
     "GET /login HTTP/1.1\r\nHost: x\r\nPassword: a\r\nPassword: b\r\nUser-Name: u\r\n\r\n",
     std::nullopt, api_code::bad_request,
     R"({"code":400,"status":"error","message":"Field < Password > is duplicated."})"},
    {"duplicated user name",
     "GET /login HTTP/1.1\r\nHost: x\r\nPassword: a\r\nUser-Name: u\r\nuser-name: v\r\n\r\n",
     std::nullopt, api_code::bad_request,
     R"({"code":400,"status":"error","message":"Field < User-Name > is duplicated."})"},
    {"unknown path", "GET /logoff HTTP/1.1\r\nHost: x\r\nPassword: p\r\nUser-Name: u\r\n\r\n",
     std::nullopt, api_code::not_found,
     R"({"code":404,"status":"error","message":"Path not found."})"},
    {"path prefix is not the path", "GET /login/x HTTP/1.1\r\nHost: x\r\n\r\n", std::nullopt,
     api_code::not_found, R"({"code":404,"status":"error","message":"Path not found."})"},
    {"method not allowed",
     "DELETE /login HTTP/1.1\r\nHost: x\r\nPassword: p\r\nUser-Name: u\r\n\r\n", std::nullopt,
     api_code::method_not_allowed,
     R"({"code":405,"status":"error","message":"Method not allowed."})"},
};

TEST(RequestDecide, Table) {
    for (const auto& row : decide_table) {
        SCOPED_TRACE(row.name);
        // Every split, as tests of Beast's own parser do: the result must not depend on how the
        // bytes arrive.
        for (std::size_t split = 1; split <= row.raw.size(); split += (split < 8 ? 1 : 7)) {
            request_head head;
            const auto p = parse(head, row.raw, split);
            ASSERT_TRUE(p.done) << p.ec.message() << " split " << split;
            const auto d = decide(head);
            EXPECT_EQ(served_by(d, head), row.what);
            EXPECT_EQ(d.code, row.code);
            EXPECT_EQ(d.body, row.body);
        }
    }
}

// RFC 6750 section 2.1: the token is what follows "Bearer" and its spaces. A head made by hand
// (the parser trims a value's outer spaces; presented_token() must not count on it): a scheme
// followed by spaces alone presents no token, and never throws.
TEST(RequestDecide, TheBearerSchemeAloneOrWithSpacesPresentsNoToken) {
    const std::pair<std::string_view, std::string_view> rows[] = {
        {"Bearer a.b.c", "a.b.c"}, {"bearer   a.b.c", "a.b.c"}, {"BEARER a", "a"},
        {"Bearer ", ""},           {"Bearer     ", ""},         {"Bearer", ""},
        {"Basic a.b.c", ""},       {"Bearera.b.c", ""},         {"", ""},
    };
    for (const auto& [authorization, token] : rows) {
        SCOPED_TRACE(authorization);
        request_head head;
        head.method = http::verb::get;
        head.route = route::verify;
        head.authorization.value = authorization;
        head.authorization.count = 1;
        EXPECT_EQ(presented_token(head), token);
        const auto d = decide(head);
        EXPECT_EQ(d.serve, !token.empty());
        EXPECT_EQ(d.code, token.empty() ? api_code::field_missing : api_code::ok);
    }
}

// The field limits are inclusive: as many fields as allowed parse, one more is 431.
TEST(RequestParse, AsManyFieldsAsTheLimitAllowsParseAndOneMoreIs431) {
    const request_limits limits;
    const auto with_fields = [](std::uint32_t n) {  // Host and n - 1 others
        std::string raw = "GET /login HTTP/1.1\r\nHost: x\r\n";
        for (std::uint32_t i = 1; i < n; ++i) {
            raw += "X-" + std::to_string(i) + ": v\r\n";
        }
        return raw + "\r\n";
    };
    request_head head;
    EXPECT_TRUE(parse(head, with_fields(limits.fields), 0, limits).done);
    const auto over = parse(head, with_fields(limits.fields + 1), 0, limits);
    ASSERT_FALSE(over.done);
    EXPECT_EQ(decide_parse_error(over.ec).code, api_code::headers_too_large);
    // And one value's: as long as it allows, or one byte longer.
    const auto with_value = [](std::size_t bytes) {
        return "GET /login HTTP/1.1\r\nHost: x\r\nPassword: " + std::string(bytes, 'p') +
               "\r\n\r\n";
    };
    const auto longest = parse(head, with_value(limits.field_bytes), 0, limits);
    ASSERT_TRUE(longest.done) << longest.ec.message();
    EXPECT_EQ(head.password.value.size(), limits.field_bytes);
    const auto longer = parse(head, with_value(limits.field_bytes + 1), 0, limits);
    ASSERT_FALSE(longer.done);
    EXPECT_EQ(decide_parse_error(longer.ec).code, api_code::headers_too_large);
    // And the request-target's.
    const auto with_target = [](std::size_t bytes) {
        std::string target = "/login?q=";
        target.resize(bytes, 'q');
        return "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n";
    };
    const auto longest_target = parse(head, with_target(limits.target_bytes), 0, limits);
    ASSERT_TRUE(longest_target.done) << longest_target.ec.message();
    EXPECT_EQ(head.route, route::login);
    const auto longer_target = parse(head, with_target(limits.target_bytes + 1), 0, limits);
    ASSERT_FALSE(longer_target.done);
    EXPECT_EQ(decide_parse_error(longer_target.ec).code, api_code::headers_too_large);
}

TEST(RequestParse, KeepsCredentialValues) {
    request_head head;
    ASSERT_TRUE(parse(head,
                      "GET /login HTTP/1.1\r\nHost: x\r\nPassword:  pass word \r\nUser-Name: "
                      "J\xc3\xa9r\xc3\xb4me\r\n\r\n")
                    .done);
    EXPECT_EQ(head.password.value, "pass word");  // surrounding whitespace is not part of it
    EXPECT_EQ(head.user_name.value, "J\xc3\xa9r\xc3\xb4me");
    EXPECT_EQ(head.route, route::login);
}

TEST(RequestParse, KeepAliveFollowsHttpVersionAndConnection) {
    request_head head;
    EXPECT_TRUE(parse(head, "GET /login HTTP/1.1\r\nHost: x\r\n\r\n").keep_alive);
    EXPECT_FALSE(
        parse(head, "GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").keep_alive);
    EXPECT_FALSE(parse(head, "GET /login HTTP/1.0\r\n\r\n").keep_alive);
    EXPECT_TRUE(parse(head, "GET /login HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive);
    EXPECT_EQ(head.version, 10);
}

TEST(RequestParse, ClearingWipesTheOldRequest) {
    request_head head;
    ASSERT_TRUE(
        parse(head, "GET /login HTTP/1.1\r\nHost: x\r\nPassword: secret\r\nUser-Name: u\r\n\r\n")
            .done);
    ASSERT_TRUE(
        parse(head, "GET /login HTTP/1.1\r\nHost: x\r\n\r\n").done);  // a new parser clears head
    EXPECT_EQ(head.password.count, 0);
    EXPECT_TRUE(head.password.value.empty());
    EXPECT_EQ(
        decide(head).body,
        R"({"code":402,"status":"error","message":"Required field < Password > is not specified."})");
    ASSERT_TRUE(
        parse(head, "GET /verify HTTP/1.1\r\nHost: x\r\nToken: a.b.c\r\nAuthorization: x\r\n\r\n")
            .done);
    ASSERT_TRUE(parse(head, "GET /verify HTTP/1.1\r\nHost: x\r\n\r\n").done);
    EXPECT_EQ(head.token.count + head.authorization.count, 0);  // nothing left from before
}

struct bad_row {
    std::string_view name;
    std::string raw;
    api_code code;
};

TEST(RequestParse, BadRequestsGetTheDocumentedCode) {
    const bad_row rows[] = {
        {"header over the limit",
         "GET /login HTTP/1.1\r\nHost: x\r\nX: " + std::string(9000, 'a') + "\r\n\r\n",
         api_code::headers_too_large},
        {"request target over the limit",
         "GET /login?" + std::string(2100, 'q') + " HTTP/1.1\r\nHost: x\r\n\r\n",
         api_code::headers_too_large},
        {"one header value over the limit",
         "GET /login HTTP/1.1\r\nHost: x\r\nPassword: " + std::string(4097, 'p') + "\r\n\r\n",
         api_code::headers_too_large},
        {"too many headers",
         "GET /login HTTP/1.1\r\nHost: x\r\n" +
             [] {
                 std::string h;
                 for (int i = 0; i < 65; ++i) {
                     h += "X-" + std::to_string(i) + ": v\r\n";
                 }
                 return h;
             }() +
             "\r\n",
         api_code::headers_too_large},
        {"body over the limit",
         "POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 9000\r\n\r\n" + std::string(9000, 'b'),
         api_code::payload_too_large},
        {"chunked body over the limit",
         "POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2328\r\n" +
             std::string(9000, 'c') + "\r\n0\r\n\r\n",
         api_code::payload_too_large},
        {"control character in a value",
         "GET /login HTTP/1.1\r\nHost: x\r\nUser-Name: a\x01b\r\n\r\n", api_code::bad_request},
        {"garbage", "\x01\x02 nonsense\r\n\r\n", api_code::bad_request},
        {"NUL in a header value",
         std::string("GET /login HTTP/1.1\r\nHost: x\r\nPassword: a\0b\r\n\r\n", 47),
         api_code::bad_request},
        {"bad version", "GET /login HTTP/9.9\r\n\r\n", api_code::bad_request},
        {"space before colon", "GET /login HTTP/1.1\r\nHost: x\r\nPassword : p\r\n\r\n",
         api_code::bad_request},
    };
    for (const auto& row : rows) {
        SCOPED_TRACE(row.name);
        request_head head;
        const auto p = parse(head, row.raw);
        ASSERT_FALSE(p.done);
        ASSERT_TRUE(p.ec);
        const auto d = decide_parse_error(p.ec);
        EXPECT_EQ(d.code, row.code) << p.ec.message();
        EXPECT_FALSE(d.serve);
        EXPECT_NE(d.body.find("\"code\":" + std::to_string(static_cast<unsigned>(row.code))),
                  std::string_view::npos);
    }
}

// RFC 9112 section 6.1 and 6.3: a request whose framing is not exactly "chunked" or exactly
// Content-Length is refused with the documented 400 (the body would otherwise be read as the
// next request: smuggling behind a proxy that frames it differently).
TEST(RequestParse, TransferEncodingOtherThanChunkedIsBadRequest) {
    // Each body, if not consumed as this request's body, parses as a second request.
    const std::string smuggled = "GET /verify HTTP/1.1\r\nHost: x\r\n\r\n";
    const std::string post = "POST /login HTTP/1.1\r\nHost: x\r\nPassword: p\r\nUser-Name: u\r\n";
    const bad_row rows[] = {
        {"xchunked", post + "Transfer-Encoding: xchunked\r\n\r\n" + smuggled,
         api_code::bad_request},
        {"identity", post + "Transfer-Encoding: identity\r\n\r\n" + smuggled,
         api_code::bad_request},
        {"gzip", post + "Transfer-Encoding: gzip\r\n\r\n" + smuggled, api_code::bad_request},
        {"gzip, chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
         api_code::bad_request},
        {"chunked, identity", post + "Transfer-Encoding: chunked, identity\r\n\r\n" + smuggled,
         api_code::bad_request},
        {"chunked, chunked", post + "Transfer-Encoding: chunked, chunked\r\n\r\n" + smuggled,
         api_code::bad_request},
        {"chunked with a parameter", post + "Transfer-Encoding: chunked;q=1\r\n\r\n" + smuggled,
         api_code::bad_request},
        {"empty", post + "Transfer-Encoding:\r\n\r\n" + smuggled, api_code::bad_request},
        {"two fields ending in chunked",
         post + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         api_code::bad_request},
        {"two fields not ending in chunked",
         post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
         api_code::bad_request},
        {"chunked twice", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
         api_code::bad_request},
        {"gzip and Content-Length",
         post + "Transfer-Encoding: gzip\r\nContent-Length: " + std::to_string(smuggled.size()) +
             "\r\n\r\n" + smuggled,
         api_code::bad_request},
        {"Content-Length and identity",
         post + "Content-Length: " + std::to_string(smuggled.size()) +
             "\r\nTransfer-Encoding: identity\r\n\r\n" + smuggled,
         api_code::bad_request},
        {"chunked and Content-Length",
         post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
         api_code::bad_request},
        {"Content-Length and chunked",
         post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         api_code::bad_request},
        {"chunked on HTTP/1.0",
         "POST /login HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         api_code::bad_request},
        {"gzip on HTTP/1.0", "POST /login HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n" + smuggled,
         api_code::bad_request},
    };
    for (const auto& row : rows) {
        SCOPED_TRACE(row.name);
        // Whole, then in pieces: the head is refused as soon as it ends, however it arrives.
        std::vector<std::size_t> splits{row.raw.size()};
        for (std::size_t split = 1; split < row.raw.size(); split += (split < 8 ? 1 : 13)) {
            splits.push_back(split);
        }
        for (const auto split : splits) {
            request_head head;
            const auto p = parse(head, row.raw, split);
            if (p.done || !p.ec || p.ec == http::error::need_more) {
                ADD_FAILURE() << "not refused (" << p.ec.message() << "), split " << split;
                break;
            }
            const auto d = decide_parse_error(p.ec);
            EXPECT_FALSE(d.serve);
            EXPECT_EQ(d.code, api_code::bad_request) << p.ec.message();
            EXPECT_EQ(d.body, R"({"code":400,"status":"error","message":"Bad request."})");
        }
    }
}

TEST(RequestParse, TransferEncodingChunkedInAnyCaseIsAccepted) {
    for (const std::string_view te :
         {"chunked", "Chunked", "CHUNKED", "chunked ,", ", chunked", " , chunked , "}) {
        SCOPED_TRACE(te);
        request_head head;
        const auto p = parse(head,
                             "POST /login HTTP/1.1\r\nHost: x\r\nPassword: p\r\nUser-Name: u\r\n"
                             "Transfer-Encoding: " +
                                 std::string(te) + "\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
        ASSERT_TRUE(p.done) << p.ec.message();
        EXPECT_TRUE(p.keep_alive);
        EXPECT_EQ(served_by(decide(head), head), route::login);
    }
}

// A chunked body however it arrives, down to a byte per read (Beast 1.81 asserts, and a debug
// build aborts, when the last chunk "0\r\n" arrives alone and the next read brings one byte).
TEST(RequestParse, ChunkedBodyInAnyPiecesIsParsed) {
    for (const std::string_view body : {"0\r\n\r\n", "0;ext=1\r\n\r\n", "3\r\nabc\r\n0\r\n\r\n",
                                        "1\r\nx\r\n0\r\nX-Trailer: v\r\n\r\n"}) {
        SCOPED_TRACE(testing::PrintToString(std::string(body)));
        const std::string raw =
            "POST /login HTTP/1.1\r\nHost: x\r\nPassword: p\r\nUser-Name: u\r\n"
            "Transfer-Encoding: chunked\r\n\r\n" +
            std::string(body) + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
        for (std::size_t split = 1; split <= raw.size(); ++split) {
            request_head head;
            const auto p = parse(head, raw, split);
            ASSERT_TRUE(p.done) << p.ec.message() << " split " << split;
            EXPECT_EQ(served_by(decide(head), head), route::login) << "split " << split;
        }
    }
}

// A head and a chunked body that run past the head's limit in one buffer (a pipelined request
// waiting behind another): the head is cut at the limit for Beast, and the body must still be
// parsed whole from what is there, without waiting for more bytes.
TEST(RequestParse, ChunkedBodyPastTheHeadLimitInOneBufferIsParsed) {
    std::string chunks;
    for (int i = 0; i < 2000; ++i) {
        chunks += "1\r\nd\r\n";  // 12,000 bytes for 2,000 bytes of data
    }
    // The cut falls at each place of a chunk ("1", CR, LF, "d", CR, LF) in turn.
    for (std::size_t pad = 0; pad < 6; ++pad) {
        SCOPED_TRACE(pad);
        const std::string raw =
            "POST /login HTTP/1.1\r\nHost: x\r\nPassword: p\r\nUser-Name: u\r\nX-Pad: " +
            std::string(pad, 'p') + "\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + "0\r\n\r\n";
        request_head head;
        const auto p = parse(head, raw);
        ASSERT_TRUE(p.done) << p.ec.message();
        EXPECT_EQ(served_by(decide(head), head), route::login);
    }
}

// Fields after a chunked body (trailer fields) are not request headers: credentials in them do
// not count, though they still count against the limits.
TEST(RequestParse, CredentialsInTrailerFieldsDoNotCount) {
    request_head head;
    const auto p =
        parse(head,
              "POST /login HTTP/1.1\r\nHost: x\r\nUser-Name: u\r\nTransfer-Encoding: chunked\r\n"
              "\r\n5\r\nhello\r\n0\r\nPassword: p\r\nUser-Name: other\r\n\r\n");
    ASSERT_TRUE(p.done) << p.ec.message();
    EXPECT_EQ(head.password.count, 0);
    EXPECT_TRUE(head.password.value.empty());
    EXPECT_EQ(head.user_name.count, 1);  // not "duplicated" by the trailer's
    EXPECT_EQ(head.user_name.value, "u");
    EXPECT_EQ(
        decide(head).body,
        R"({"code":402,"status":"error","message":"Required field < Password > is not specified."})");

    ASSERT_TRUE(parse(head,
                      "GET /verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
                      "Token: a.b.c\r\nAuthorization: Bearer a.b.c\r\n\r\n")
                    .done);
    EXPECT_EQ(head.token.count + head.authorization.count, 0);

    std::string trailer;
    for (int i = 0; i < 70; ++i) {
        trailer += "X-" + std::to_string(i) + ": v\r\n";
    }
    const auto many =
        parse(head, "POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" +
                        trailer + "\r\n");
    ASSERT_FALSE(many.done);
    EXPECT_EQ(decide_parse_error(many.ec).code, api_code::headers_too_large) << many.ec.message();
}

// A request head of `bytes` bytes in all (request line, fields, the empty line), made of fields of
// at most 1,500 bytes each: every field is within its own limit, only the whole can be too long.
std::string head_of(std::size_t bytes) {
    std::string raw = "GET /login HTTP/1.1\r\nHost: x\r\nUser-Name: u\r\nPassword: p\r\n";
    for (int i = 0;; ++i) {
        const std::string name = "X-" + std::to_string(i) + ": ";
        const std::size_t room = bytes - raw.size() - 2;  // for this field and those after it
        const std::size_t whole = name.size() + 1500 + 2;
        if (room < whole + name.size() + 3) {  // the last field: it fills the room
            raw += name + std::string(room - name.size() - 2, 'a') + "\r\n";
            break;
        }
        raw += name + std::string(1500, 'a') + "\r\n";
    }
    return raw + "\r\n";
}

// docs/api.md: the request line and the headers together are at most 8 KiB, however the bytes
// arrive. Beast 1.81 counts its limit from where each call to put() begins, after the request
// line: a head whose fields came in several reads, or whose fields Beast took in part before
// the rest arrived, could have been longer.
TEST(RequestParse, HeadLimitHoldsHoweverTheBytesArrive) {
    const request_limits limits;
    for (const std::size_t split : {std::size_t{0}, std::size_t{1}, std::size_t{100},
                                    std::size_t{1000}, std::size_t{2048}, std::size_t{4000}}) {
        SCOPED_TRACE("pieces of " + std::to_string(split));
        const auto longest = head_of(limits.header_bytes);
        ASSERT_EQ(longest.size(), limits.header_bytes);
        request_head head;
        const auto fits = parse(head, longest, split);
        EXPECT_TRUE(fits.done) << fits.ec.message();
        EXPECT_EQ(head.user_name.value, "u");
        for (const std::size_t over : {std::size_t{1}, std::size_t{900}, std::size_t{1900}}) {
            SCOPED_TRACE("bytes over the limit: " + std::to_string(over));
            const auto raw = head_of(limits.header_bytes + over);
            ASSERT_EQ(raw.size(), limits.header_bytes + over);
            const auto p = parse(head, raw, split);
            EXPECT_FALSE(p.done);
            EXPECT_EQ(p.ec, http::error::header_limit) << p.ec.message();
        }
    }
}

// docs/api.md, "HEAD": no answer to a HEAD request has a body, also when the request line itself
// is what is refused (before Beast has named the method).
TEST(RequestParse, HeadRefusedInItsRequestLineIsStillHead) {
    const std::string refused[] = {
        "HEAD /a b HTTP/1.1\r\nHost: x\r\n\r\n",
        "HEAD /login HTTP/1.2\r\n\r\n",
        "HEAD  /login HTTP/1.1\r\nHost: x\r\n\r\n",
        "HEAD /lo\x01gin HTTP/1.1\r\nHost: x\r\n\r\n",
        "HEAD /login\r\n\r\n",
        "HEAD /login?" + std::string(3000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n",
        "HEAD /login?" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    for (const auto& raw : refused) {
        SCOPED_TRACE(raw.substr(0, 40));
        for (const std::size_t split : {std::size_t{0}, std::size_t{1}, std::size_t{7}}) {
            request_head head;
            const auto p = parse(head, raw, split);
            ASSERT_FALSE(p.done);
            ASSERT_TRUE(p.ec);
            EXPECT_EQ(head.method, http::verb::head) << p.ec.message();
        }
    }
    // Cut short after its method, in its request line (the stream then ends: 400).
    for (const std::string cut : {"HEAD ", "HEAD /login HT", "HEAD /login HTTP/1.1\r"}) {
        SCOPED_TRACE(cut);
        request_head head;
        const auto p = parse(head, cut);
        ASSERT_FALSE(p.done);
        EXPECT_EQ(p.ec, http::error::need_more);
        EXPECT_EQ(head.method, http::verb::head);
    }
    for (const std::string raw :
         {"HEADX /login HTTP/1.1\r\nHost: x\r\n\r\n", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
          "GET /login?HEAD /a b HTTP/1.1\r\nHost: x\r\n\r\n",
          "FOO /login HTTP/1.1\r\nHost: x\r\nHEAD x\r\n\r\n"}) {
        SCOPED_TRACE(raw);
        for (const std::size_t split : {std::size_t{0}, std::size_t{21}}) {
            request_head head;        // 21: a request line taken alone, then a field "HEAD x"
            parse(head, raw, split);  // refused, or (HEADX) an unknown method answered 405 later
            EXPECT_NE(head.method, http::verb::head);
        }
    }
}

// RFC 9112 section 3.2.2: a server must accept a target in absolute-form; its path routes it.
TEST(RequestParse, AbsoluteFormTargetIsRoutedByItsPath) {
    const std::pair<std::string_view, route> rows[] = {
        {"GET http://auth.example/login HTTP/1.1\r\nHost: x\r\n\r\n", route::login},
        {"GET HTTPS://auth.example:8443/verify?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", route::verify},
        {"GET http://auth.example/forward-auth/app HTTP/1.1\r\nHost: x\r\n\r\n",
         route::forward_auth},
        {"GET http://auth.example HTTP/1.1\r\nHost: x\r\n\r\n", route::unknown},
        {"GET http://auth.example?/login HTTP/1.1\r\nHost: x\r\n\r\n", route::unknown},
        {"GET ftp://auth.example/login HTTP/1.1\r\nHost: x\r\n\r\n", route::unknown},
        {"GET http:/login HTTP/1.1\r\nHost: x\r\n\r\n", route::unknown},
    };
    for (const auto& [raw, expected] : rows) {
        SCOPED_TRACE(raw);
        request_head head;
        ASSERT_TRUE(parse(head, raw).done);
        EXPECT_EQ(head.route, expected);
    }
}

// RFC 9112 section 2.2: one empty line before the request line is ignored, however it arrives;
// a second one is not.
TEST(RequestParse, OneEmptyLineBeforeTheRequestLineIsIgnored) {
    for (const std::size_t split : {std::size_t{0}, std::size_t{1}, std::size_t{3}}) {
        SCOPED_TRACE(split);
        request_head head;
        const auto p =
            parse(head, "\r\nGET /login HTTP/1.1\r\nHost: x\r\nUser-Name: u\r\n\r\n", split);
        EXPECT_TRUE(p.done) << p.ec.message();
        EXPECT_EQ(head.route, route::login);
        EXPECT_EQ(head.user_name.value, "u");
        const auto two = parse(head, "\r\n\r\nGET /login HTTP/1.1\r\nHost: x\r\n\r\n", split);
        EXPECT_FALSE(two.done);
        EXPECT_TRUE(two.ec);
        EXPECT_EQ(decide_parse_error(two.ec).code, api_code::bad_request);
    }
}

// RFC 9112 section 3.2: an HTTP/1.1 request without Host, any request with two, or with an
// invalid one is 400; HTTP/1.0 without Host is served.
TEST(RequestParse, HostIsRequiredOnceAndValid) {
    const auto outcome = [](std::string_view version, std::string_view fields) {
        request_head head;
        const auto p = parse(
            head, "GET /healthz " + std::string(version) + "\r\n" + std::string(fields) + "\r\n");
        return p.done ? api_code::ok : decide_parse_error(p.ec).code;
    };
    EXPECT_EQ(outcome("HTTP/1.1", ""), api_code::bad_request);
    EXPECT_EQ(outcome("HTTP/1.1", "X-Host: a\r\n"), api_code::bad_request);
    EXPECT_EQ(outcome("HTTP/1.0", ""), api_code::ok);
    EXPECT_EQ(outcome("HTTP/1.1", "Host: a\r\nhost: a\r\n"), api_code::bad_request);
    EXPECT_EQ(outcome("HTTP/1.0", "Host: a\r\nHost: b\r\n"), api_code::bad_request);
    EXPECT_EQ(outcome("HTTP/1.1", "Host: a\r\nHost: \r\n"), api_code::bad_request);
    for (const std::string_view good :
         {"", "a", "auth.example", "auth.example:8080", "auth.example:", "127.0.0.1",
          "127.0.0.1:80", "[::1]", "[::1]:8080", "[fe80::1%25eth0]", "xn--bcher-kva.example",
          "a_b~c-d", "%41", "!$&'()*+,;=", "[v1.x:y]"}) {
        SCOPED_TRACE(good);
        EXPECT_TRUE(valid_host(good));
        EXPECT_EQ(outcome("HTTP/1.1", "Host: " + std::string(good) + "\r\n"), api_code::ok);
        EXPECT_EQ(outcome("HTTP/1.0", "Host: " + std::string(good) + "\r\n"), api_code::ok);
    }
    for (const std::string_view bad :
         {"a b",    "a/b",     "a@b",    "a:b", "a:80:81", "a:8o", "[::1", "::1", "[]",
          "[::1]x", "[::1]:x", "[::1]]", "a]",  "[a b]",   "%4",   "%zz",  "a%",  "a?b",
          "a#b",    "a\"b",    "a\\b",   "<a>", "{a}",     "a|b",  "a^b",  "a`b", "\xc3\xa9"}) {
        SCOPED_TRACE(bad);
        EXPECT_FALSE(valid_host(bad));
        EXPECT_EQ(outcome("HTTP/1.1", "Host: " + std::string(bad) + "\r\n"), api_code::bad_request);
        EXPECT_EQ(outcome("HTTP/1.0", "Host: " + std::string(bad) + "\r\n"), api_code::bad_request);
    }
}

// Chunk extensions: no control character but HTAB (RFC 9110 section 5.6.4), and their bytes
// count against the body limit with the data (RFC 9112 section 7.1.1).
TEST(RequestParse, ChunkExtensionsAreCheckedAndCountAgainstTheBodyLimit) {
    const auto outcome = [](const std::string& body, request_limits limits = {}) {
        request_head head;
        const auto p = parse(
            head, "POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body, 0,
            limits);
        return p.done ? api_code::ok : decide_parse_error(p.ec).code;
    };
    EXPECT_EQ(outcome("3;a=b;c=\"d\te\"\r\nabc\r\n0;z=\"\\\"\"\r\n\r\n"), api_code::ok);
    for (const char c : {'\n', '\0', '\x7f', '\x01', '\x1f', '\r'}) {
        SCOPED_TRACE(static_cast<int>(c));
        const std::string ext = std::string(";a=\"x") + c + "y\"";
        EXPECT_EQ(outcome("3" + ext + "\r\nabc\r\n0\r\n\r\n"), api_code::bad_request);
        EXPECT_EQ(outcome("0" + ext + "\r\n\r\n"), api_code::bad_request);  // the last chunk's
    }
    // 8 KiB of data and extensions together: exactly the limit passes, one byte more is 413,
    // however it is spread over chunks.
    request_limits limits;
    limits.body_bytes = 100;
    const std::string ext40 = ";" + std::string(39, 'e');
    const std::string data10(10, 'd');
    EXPECT_EQ(
        outcome("a" + ext40 + "\r\n" + data10 + "\r\na" + ext40 + "\r\n" + data10 + "\r\n0\r\n\r\n",
                limits),
        api_code::ok);  // 100 bytes
    EXPECT_EQ(outcome("a" + ext40 + "\r\n" + data10 + "\r\na" + ext40 + "\r\n" + data10 +
                          "\r\n0;z\r\n\r\n",
                      limits),
              api_code::payload_too_large);  // 102: the last chunk's ";z"
    std::string many;
    for (int i = 0; i < 50; ++i) {
        many += "1;" + std::string(20, 'x') + "\r\nd\r\n";
    }
    EXPECT_EQ(outcome(many + "0\r\n\r\n"), api_code::ok);  // 50 * 22 = 1,100 bytes of 8 KiB
    for (int i = 0; i < 350; ++i) {
        many += "1;" + std::string(20, 'x') + "\r\nd\r\n";
    }
    EXPECT_EQ(outcome(many + "0\r\n\r\n"), api_code::payload_too_large);  // 400 * 22 = 8,800
}
// RFC 9110 section 10.1.1: "Expect: 100-continue" is owed a 100 once the head is in and while a
// body is still to come (HTTP/1.1 only), and once only.
TEST(RequestParse, ContinueIsOwedOnceWhileABodyIsToCome) {
    const auto owed = [](std::string_view raw) {
        request_head head;
        const request_limits limits;
        request_parser parser(head, limits);
        parser.eager(true);
        boost::beast::error_code ec;
        parser.put(boost::asio::buffer(raw), ec);
        const bool first = parser.take_continue();
        EXPECT_FALSE(parser.take_continue());
        return first;
    };
    EXPECT_TRUE(owed(
        "POST /login HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
    EXPECT_TRUE(owed(
        "POST /login HTTP/1.1\r\nHost: x\r\nexpect: 100-Continue\r\nContent-Length: 5\r\n\r\nab"));
    EXPECT_TRUE(
        owed("POST /login HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
             "Transfer-Encoding: chunked\r\n\r\n"));
    EXPECT_FALSE(
        owed("POST /login HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
             "abcde"));  // the body is in already
    EXPECT_FALSE(
        owed("GET /login HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n"));  // no body
    EXPECT_FALSE(owed("POST /login HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
    EXPECT_FALSE(
        owed("POST /login HTTP/1.1\r\nHost: x\r\nExpect: other\r\nContent-Length: 5\r\n\r\n"));
    EXPECT_FALSE(
        owed("POST /login HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n"));
}

}  // namespace
}  // namespace authd
