// HTTP message framing (RFC 9112 sections 6 and 9.3) and what a log line shows of a request,
// against the real authd over real sockets: Transfer-Encoding other than chunked, Host, chunk
// extensions, HEAD, credentials in trailer fields, user names that are not UTF-8.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <utility>
#include <vector>

#include "harness.hpp"

namespace authd_it {
namespace {

constexpr std::string_view seed_user = "user_test";
constexpr std::string_view seed_password = "password_test";
const std::string bad_request_body = error_body(400, "Bad request.");

// Everything the server sends on the client's connection until it closes it, read off the socket
// as raw bytes (no HTTP parser between: what a naive client would see). timed_out is set when
// the connection was still open after timeout.
struct raw_reply {
    std::string bytes;
    bool timed_out = false;
};

raw_reply read_until_close(http_client& client, std::chrono::milliseconds timeout = 10s) {
    raw_reply reply;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd p{client.fd(), POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) == 0) {
            reply.timed_out = true;
            return reply;
        }
        char buf[4096];
        const auto n = ::recv(client.fd(), buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return reply;
        }
        reply.bytes.append(buf, static_cast<std::size_t>(n));
    }
}

// Sends request, then reads until authd closes the connection: the reply, which begins with
// status.
raw_reply answered_then_closed(http_client& client, std::string_view request,
                               std::string_view status) {
    client.send(request);
    auto reply = read_until_close(client);
    EXPECT_FALSE(reply.timed_out) << reply.bytes;
    EXPECT_EQ(reply.bytes.rfind(status, 0), 0U) << reply.bytes;
    return reply;
}

std::size_t count_of(std::string_view haystack, std::string_view needle) {
    std::size_t n = 0;
    for (auto at = haystack.find(needle); at != std::string_view::npos;
         at = haystack.find(needle, at + 1)) {
        ++n;
    }
    return n;
}

// Sends request on a connection of its own and expects one answer, a 400 with the documented body
// and Connection: close, and then the close (nothing of what followed in the request answered).
void expect_one_400_then_close(std::uint16_t port, const std::string& request) {
    http_client client(port);
    client.send(request);
    const auto reply = read_until_close(client);
    EXPECT_FALSE(reply.timed_out) << "the connection stayed open: " << reply.bytes;
    EXPECT_EQ(count_of(reply.bytes, "HTTP/1."), 1U) << reply.bytes;
    EXPECT_EQ(reply.bytes.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0U) << reply.bytes;
    EXPECT_NE(reply.bytes.find("\r\nConnection: close\r\n"), std::string::npos) << reply.bytes;
    EXPECT_TRUE(reply.bytes.ends_with("\r\n\r\n" + bad_request_body)) << reply.bytes;
}

class HttpFramingTest : public authd_test {
  protected:
    void SetUp() override { env_.add_user(std::string(seed_user), std::string(seed_password)); }
};

// --- Transfer-Encoding (RFC 9112 sections 6.1 and 6.3) ----------------------------------------

// Each request carries a second one as its "body". A server that frames the first without that
// body answers the second too: a proxy in front that framed it otherwise would have forwarded
// it unseen (request smuggling). authd answers 400 once and closes.
TEST_F(HttpFramingTest, TransferEncodingOtherThanChunkedIs400OnceThenClose) {
    start();
    const std::string smuggled = make_request("GET", "/healthz", {});
    const std::string head =
        "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nPassword: " + std::string(seed_password) +
        "\r\nUser-Name: " + std::string(seed_user) + "\r\n";
    const std::string length = "Content-Length: " + std::to_string(smuggled.size()) + "\r\n";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"xchunked", head + "Transfer-Encoding: xchunked\r\n\r\n" + smuggled},
        {"identity", head + "Transfer-Encoding: identity\r\n\r\n" + smuggled},
        {"gzip", head + "Transfer-Encoding: gzip\r\n\r\n" + smuggled},
        {"chunked, identity", head + "Transfer-Encoding: chunked, identity\r\n\r\n" + smuggled},
        {"chunked, chunked", head + "Transfer-Encoding: chunked, chunked\r\n\r\n" + smuggled},
        {"gzip, chunked", head + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + smuggled},
        {"two fields", head + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" +
                           "0\r\n\r\n" + smuggled},
        {"gzip with Content-Length",
         head + "Transfer-Encoding: gzip\r\n" + length + "\r\n" + smuggled},
        {"chunked with Content-Length",
         head + "Transfer-Encoding: chunked\r\n" + length + "\r\n0\r\n\r\n" + smuggled},
        {"chunked on HTTP/1.0",
         "POST /login HTTP/1.0\r\nConnection: keep-alive\r\n"
         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
             smuggled},
    };
    for (const auto& [name, request] : cases) {
        SCOPED_TRACE(name);
        expect_one_400_then_close(port(), request);
    }
    // Plain chunked still works, and keeps the connection.
    http_client client(port());
    const auto r =
        client.roundtrip(head + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    EXPECT_EQ(status_line(r), "HTTP/1.1 200 OK") << r.body();
    EXPECT_TRUE(r.keep_alive());
}

// The end of a chunked body trickled in: "0\r\n", then one byte per read (each read by authd
// before the next is sent). Beast 1.81 asserts there; authd must answer, not abort.
TEST_F(HttpFramingTest, ChunkedBodyEndTrickledByteByByteIsAnswered) {
    start();
    http_client client(port());
    const std::vector<std::string> pieces = {
        "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nPassword: " + std::string(seed_password) +
            "\r\nUser-Name: " + std::string(seed_user) +
            "\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
        "\r", "\n"};
    for (const auto& piece : pieces) {
        client.send(piece);
        ASSERT_TRUE(wait_server_read(port(), {client.local_port()}, 10s));
    }
    const auto r = client.read_response();
    EXPECT_EQ(status_line(r), "HTTP/1.1 200 OK") << r.body();
    EXPECT_TRUE(token_of(r.body())) << r.body();
    EXPECT_EQ(status_line(client.roundtrip(make_request("GET", "/healthz", {}))),
              "HTTP/1.1 200 OK");
}

// --- Host (RFC 9112 section 3.2) and chunk extensions (RFC 9110 section 5.6.4, RFC 9112 7.1.1) ---

// The seed's login with the right credentials, but without Host, with two, or with an invalid
// one: 400 once, then the connection closes (a proxy routing by Host could read it otherwise).
TEST_F(HttpFramingTest, HostMissingTwiceOrInvalidIs400ThenClose) {
    start();
    const std::string credentials = "Password: " + std::string(seed_password) +
                                    "\r\nUser-Name: " + std::string(seed_user) + "\r\n";
    const std::string next = make_request("GET", "/healthz", {});
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"no Host", "GET /login HTTP/1.1\r\n" + credentials + "\r\n" + next},
        {"two Host", "GET /login HTTP/1.1\r\nHost: a\r\nHost: b\r\n" + credentials + "\r\n" + next},
        {"two on HTTP/1.0",
         "GET /login HTTP/1.0\r\nConnection: keep-alive\r\nHost: a\r\nHost: a\r\n" + credentials +
             "\r\n" + next},
        {"a space", "GET /login HTTP/1.1\r\nHost: a b\r\n" + credentials + "\r\n" + next},
        {"a path", "GET /login HTTP/1.1\r\nHost: a/b\r\n" + credentials + "\r\n" + next},
        {"userinfo", "GET /login HTTP/1.1\r\nHost: u@a\r\n" + credentials + "\r\n" + next},
        {"a port that is no number",
         "GET /login HTTP/1.1\r\nHost: a:80x\r\n" + credentials + "\r\n" + next},
    };
    for (const auto& [name, request] : cases) {
        SCOPED_TRACE(name);
        expect_one_400_then_close(port(), request);
    }
    // HTTP/1.0 without Host, and HTTP/1.1 with an IPv6 literal and a port, log in.
    for (const std::string& request :
         {"GET /login HTTP/1.0\r\n" + credentials + "\r\n",
          "GET /login HTTP/1.1\r\nHost: [::1]:8080\r\n" + credentials + "\r\n"}) {
        http_client client(port());
        const auto r = client.roundtrip(request);
        EXPECT_EQ(r.result_int(), 200) << r.body();
        EXPECT_TRUE(token_of(r.body())) << r.body();
    }
}

// A lone LF inside a quoted chunk extension: a proxy that ends the chunk line there would read
// what follows as chunk data, authd as extension: 400 once, and close.
TEST_F(HttpFramingTest, ControlCharacterInAChunkExtensionIs400ThenClose) {
    start();
    const std::string head =
        "POST /login HTTP/1.1\r\nHost: x\r\nPassword: " + std::string(seed_password) +
        "\r\nUser-Name: " + std::string(seed_user) + "\r\nTransfer-Encoding: chunked\r\n\r\n";
    const std::string smuggled = make_request("GET", "/healthz", {});
    for (const std::string& ext : {std::string(";a=\"\n0\r\n\r\n") + smuggled + "\"",
                                   std::string(";a=\"x\0y\"", 8), std::string(";a=\"\x7f\"")}) {
        SCOPED_TRACE(testing::PrintToString(ext));
        expect_one_400_then_close(port(), head + "2" + ext + "\r\nab\r\n0\r\n\r\n" + smuggled);
    }
    // A quoted extension with HTAB and a quoted-pair is fine.
    http_client client(port());
    const auto r = client.roundtrip(head + "2;a=\"x\ty\\\"\"\r\nab\r\n0;b=c\r\n\r\n");
    EXPECT_EQ(r.result_int(), 200) << r.body();
}

// Extensions are bounded with the body: 1 KiB of extension on each one-byte chunk passes the
// 8 KiB body limit at the eighth chunk, and the answer is 413 there.
TEST_F(HttpFramingTest, ChunkExtensionsCountAgainstTheBodyLimit) {
    start();
    const std::string head =
        "POST /login HTTP/1.1\r\nHost: x\r\nPassword: " + std::string(seed_password) +
        "\r\nUser-Name: " + std::string(seed_user) + "\r\nTransfer-Encoding: chunked\r\n\r\n";
    const std::string chunk = "1;" + std::string(1023, 'e') + "\r\nd\r\n";  // 1,025 bytes counted
    std::string within;
    for (int i = 0; i < 7; ++i) {
        within += chunk;
    }
    {
        http_client client(port());
        const auto r = client.roundtrip(head + within + "0\r\n\r\n");
        EXPECT_EQ(r.result_int(), 200) << r.body();  // 7,175 bytes
    }
    http_client client(port());
    client.send(head + within + chunk + "0\r\n\r\n");  // 8,200 bytes
    const auto reply = read_until_close(client);
    EXPECT_FALSE(reply.timed_out) << "the connection stayed open: " << reply.bytes;
    EXPECT_EQ(reply.bytes.rfind("HTTP/1.1 413 Content Too Large\r\n", 0), 0U) << reply.bytes;
}

// --- HEAD (RFC 9110 section 9.3.2) ------------------------------------------------------------

// The answer to HEAD is a 405 without a body: the next response on the connection follows its
// head at once. Read as raw bytes, the way a client that does not track HEAD would.
TEST_F(HttpFramingTest, HeadIs405WithoutBodyAndThePipelinedNextResponseIsIntact) {
    start();
    for (const std::string_view target : {"/login", "/healthz", "/nowhere"}) {
        SCOPED_TRACE(target);
        http_client client(port());
        client.send(make_request("HEAD", target, {"Password: p", "User-Name: u"}) +
                    make_request("GET", "/healthz", {}, /*close=*/true));
        const auto reply = read_until_close(client);
        ASSERT_FALSE(reply.timed_out) << reply.bytes;
        const auto end = reply.bytes.find("\r\n\r\n");
        ASSERT_NE(end, std::string::npos) << reply.bytes;
        const auto head = reply.bytes.substr(0, end + 4);
        const auto expected_status = target == "/nowhere" ? "HTTP/1.1 404 Not Found\r\n"
                                                          : "HTTP/1.1 405 Method Not Allowed\r\n";
        EXPECT_EQ(head.rfind(expected_status, 0), 0U) << head;
        if (target != "/nowhere") {
            EXPECT_NE(head.find("\r\nAllow: GET, POST\r\n"), std::string::npos) << head;
        }
        EXPECT_NE(head.find("\r\nContent-Length: 0\r\n"), std::string::npos) << head;
        EXPECT_EQ(head.find("Connection: close"), std::string::npos) << head;  // kept alive
        // Right after the head: the second response, whole, and nothing else.
        const auto second = reply.bytes.substr(end + 4);
        EXPECT_EQ(second.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << second;
        const std::string ok = R"({"code":200,"status":"ok"})";
        EXPECT_NE(second.find("\r\nContent-Length: " + std::to_string(ok.size()) + "\r\n"),
                  std::string::npos)
            << second;
        EXPECT_TRUE(second.ends_with("\r\n\r\n" + ok)) << second;
        EXPECT_EQ(count_of(reply.bytes, "HTTP/1.1 "), 2U) << reply.bytes;
    }
}

// A refusal that closes the connection does not reset it while the client is still sending (RFC
// 9112 section 9.6): authd shuts its side down, then reads and drops what the client still sends
// until it closes too (or a few seconds pass). A reset would destroy an answer the client has not
// read yet wherever it overtakes it (a lossy network, some clients' stacks; on Linux loopback the
// answer is still read first), so here it shows as the client's sends failing after the answer.
TEST_F(HttpFramingTest, ARefusalLetsAClientThatIsStillSendingFinish) {
    start();
    http_client client(port());
    answered_then_closed(client, "GET /login HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n",
                         "HTTP/1.1 400 Bad Request\r\n");
    // authd has answered and ended its side; what the client sent meanwhile is read and dropped.
    const std::string more(16 * 1024, 'x');
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(::send(client.fd(), more.data(), more.size(), MSG_NOSIGNAL),
                  static_cast<ssize_t>(more.size()))
            << "send " << i << ": " << std::strerror(errno);
        std::this_thread::sleep_for(100ms);
    }
}

// A HEAD request the parser refuses gets its 400 without a body too (then the close).
TEST_F(HttpFramingTest, MalformedHeadRequestIs400WithoutBody) {
    start();
    http_client client(port());
    const auto reply =
        answered_then_closed(client, "HEAD /login HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n",
                             "HTTP/1.1 400 Bad Request\r\n");
    EXPECT_NE(reply.bytes.find("\r\nContent-Length: 0\r\n"), std::string::npos) << reply.bytes;
    EXPECT_TRUE(reply.bytes.ends_with("\r\n\r\n")) << reply.bytes;
}

// ... and so does one whose request line is what the parser refuses (docs/api.md, "HEAD"): too
// long a target (431), a malformed line (400).
TEST_F(HttpFramingTest, HeadRefusedInItsRequestLineIsAnsweredWithoutBody) {
    start();
    const std::pair<std::string, std::string_view> cases[] = {
        {"HEAD /login?" + std::string(3000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n",
         "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
        {"HEAD /login?" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n",
         "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
        {"HEAD /a b HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
        {"HEAD /login HTTP/1.2\r\nHost: x\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
        {"HEAD /login\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
        // Cut short in its request line: the client ends its stream (below).
        {"HEAD /login HT", "HTTP/1.1 400 Bad Request\r\n"},
    };
    for (const auto& [request, status] : cases) {
        SCOPED_TRACE(request.substr(0, 30));
        http_client client(port());
        client.send(request);
        if (!request.ends_with("\r\n\r\n")) {
            ::shutdown(client.fd(), SHUT_WR);
        }
        const auto reply = read_until_close(client);
        ASSERT_FALSE(reply.timed_out) << reply.bytes;
        EXPECT_EQ(reply.bytes.rfind(status, 0), 0U) << reply.bytes;
        EXPECT_NE(reply.bytes.find("\r\nContent-Length: 0\r\n"), std::string::npos) << reply.bytes;
        EXPECT_TRUE(reply.bytes.ends_with("\r\n\r\n")) << reply.bytes;
    }
}

// --- the head's limit (docs/api.md, "Limits") -------------------------------------------------

// The request line and headers together are at most 8 KiB, whether the client writes them at once
// or in pieces that arrive in several reads (each field here within its own 4 KiB limit).
TEST_F(HttpFramingTest, HeadOverEightKibIs431HoweverItArrives) {
    start();
    std::string head = "GET /login HTTP/1.1\r\nHost: x\r\nUser-Name: " + std::string(seed_user) +
                       "\r\nPassword: " + std::string(seed_password) + "\r\n";
    for (int i = 0; i < 6; ++i) {
        head += "X" + std::to_string(i) + ": " + std::string(1500, 'a') + "\r\n";
    }
    head += "\r\n";
    ASSERT_GT(head.size(), 8192U);
    ASSERT_LT(head.size(), 10000U);
    for (const std::size_t piece : {head.size(), std::size_t{1000}}) {
        SCOPED_TRACE("pieces of " + std::to_string(piece));
        http_client client(port());
        for (std::size_t at = 0; at < head.size(); at += piece) {
            client.send(std::string_view(head).substr(at, piece));
            std::this_thread::sleep_for(5ms);  // one read each
        }
        const auto reply = read_until_close(client);
        ASSERT_FALSE(reply.timed_out) << reply.bytes;
        EXPECT_EQ(reply.bytes.rfind("HTTP/1.1 431 Request Header Fields Too Large\r\n", 0), 0U)
            << reply.bytes.substr(0, 200);
    }
}

// --- what RFC 9112 and 9110 ask a server to accept ------------------------------------------

// Section 10.1.1 of RFC 9110: a client that sends "Expect: 100-continue" may wait for the 100
// before it sends the body. authd sends it once the head is in, then answers the request.
TEST_F(HttpFramingTest, ExpectContinueGetsItsHundredBeforeTheBody) {
    start();
    http_client client(port());
    client.send("POST /login HTTP/1.1\r\nHost: x\r\nUser-Name: " + std::string(seed_user) +
                "\r\nPassword: " + std::string(seed_password) +
                "\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    const auto interim = client.try_read_response(10s);  // the body is not sent yet
    ASSERT_TRUE(interim.has_value()) << "no 100 Continue before the body";
    EXPECT_EQ(status_line(*interim), "HTTP/1.1 100 Continue");
    client.send("abcde");
    const auto answer = client.read_response();
    EXPECT_EQ(answer.result_int(), 200) << answer.body();
    EXPECT_NE(answer.body().find(R"("token":"eyJ)"), std::string::npos) << answer.body();
}

// The same with curl, which waits up to a second for the 100 before it sends a body of more than
// 1 KiB: its verbose output shows the 100, then the answer.
TEST_F(HttpFramingTest, CurlWithExpectContinueIsAnswered) {
    start();
    const auto body = env_.dir().file("body.bin");
    std::ofstream(body, std::ios::binary) << std::string(2048, 'b');
    const auto r = run_command(
        {"curl", "-sS", "-v", "-H", "Expect: 100-continue", "-H",
         "User-Name: " + std::string(seed_user), "-H", "Password: " + std::string(seed_password),
         "--data-binary", "@" + body, "http://127.0.0.1:" + std::to_string(port()) + "/login"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("< HTTP/1.1 100 Continue"), std::string::npos) << r.err;
    EXPECT_NE(r.out.find(R"({"code":200,"status":"ok","token":"eyJ)"), std::string::npos) << r.out;
}

// Section 3.2.2 of RFC 9112: a server must accept a target in absolute-form.
TEST_F(HttpFramingTest, AbsoluteFormTargetLogsIn) {
    start();
    http_client client(port());
    const auto r = client.roundtrip(make_request(
        "GET", "http://auth.example/login",
        {"User-Name: " + std::string(seed_user), "Password: " + std::string(seed_password)}));
    EXPECT_EQ(r.result_int(), 200) << r.body();
}

// Section 2.2 of RFC 9112: an empty line before a request line is ignored, such as the one some
// clients send after a POST body, on a kept-alive connection.
TEST_F(HttpFramingTest, EmptyLineAfterABodyIsIgnoredOnAKeptAliveConnection) {
    start();
    http_client client(port());
    client.send("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab\r\n" +
                login_request(seed_user, seed_password));
    EXPECT_EQ(client.read_response().result_int(), 200);
    const auto login = client.read_response();
    EXPECT_EQ(login.result_int(), 200) << login.body();
    EXPECT_NE(login.body().find(R"("token":"eyJ)"), std::string::npos) << login.body();
}

// --- trailer fields (RFC 9112 section 7.1.2) --------------------------------------------------

TEST_F(HttpFramingTest, CredentialsInChunkedTrailerFieldsDoNotCount) {
    start();
    http_client client(port());
    const std::string head =
        "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Name: " + std::string(seed_user) +
        "\r\nTransfer-Encoding: chunked\r\n\r\n";
    const auto r = client.roundtrip(
        head + "5\r\nhello\r\n0\r\nPassword: " + std::string(seed_password) + "\r\n\r\n");
    EXPECT_EQ(status_line(r), "HTTP/1.1 400 Bad Request");
    EXPECT_EQ(r.body(), error_body(402, "Required field < Password > is not specified."));
    EXPECT_TRUE(r.keep_alive());
    // With the password in the header, a trailer's second password is no duplicate: ignored.
    const auto ok = client.roundtrip(
        "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Name: " + std::string(seed_user) +
        "\r\nPassword: " + std::string(seed_password) +
        "\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
        "Password: other\r\nUser-Name: other\r\n\r\n");
    EXPECT_EQ(status_line(ok), "HTTP/1.1 200 OK") << ok.body();
    EXPECT_TRUE(token_of(ok.body())) << ok.body();
}

// --- log lines --------------------------------------------------------------------------------

// Three names whose bytes differ: "josé" in UTF-8, "jos" and the Latin-1 byte of é (not UTF-8),
// and "jos" followed by the four characters \xE9. Their request log lines must differ, and stay
// JSON (checked with Python's json module, not authd's code).
TEST_F(HttpFramingTest, LogLinesOfDistinctNamesDiffer) {
    env_.add_user("jos\xc3\xa9", "pw");
    start();
    http_client client(port());
    const std::vector<std::string> names = {"jos\xc3\xa9", "jos\xe9", "jos\\xE9"};
    for (const auto& name : names) {
        client.roundtrip(login_request(name, "pw"));
    }
    std::vector<std::string> lines;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (lines.size() < names.size() && std::chrono::steady_clock::now() < deadline) {
        lines.clear();
        for (const auto& l : server().stderr_lines()) {
            if (l.find(R"("event":"request")") != std::string::npos &&
                l.find(R"("route":"login")") != std::string::npos) {
                lines.push_back(l);
            }
        }
        std::this_thread::sleep_for(20ms);
    }
    ASSERT_EQ(lines.size(), names.size()) << server().stderr_text();
    std::string input;
    for (const auto& l : lines) {
        input += l + "\n";
    }
    // Each line's user field as Python decodes it, re-encoded as ASCII JSON.
    const auto decoded =
        run_command({python_bin(), "-c",
                     "import json, sys\n"
                     "for line in sys.stdin.buffer:\n"
                     "    print(json.dumps(json.loads(line.decode('utf-8'))['user']))\n"},
                    input);
    ASSERT_EQ(decoded.exit_code, 0) << decoded.err << input;
    EXPECT_EQ(decoded.out,
              "\"jos\\u00e9\"\n"
              "\"jos\\\\xE9\"\n"
              "\"jos\\\\\\\\xE9\"\n")
        << input;
}

}  // namespace
}  // namespace authd_it
