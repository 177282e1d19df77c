// HTTP message framing (RFC 9112 sections 6 and 9.3) and what a log line shows of a request,
// against the real authd over real sockets: Transfer-Encoding other than chunked, HEAD,
// credentials in trailer fields, user names that are not UTF-8.
#include <cerrno>
#include <poll.h>
#include <string>
#include <sys/socket.h>
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

std::size_t count_of(std::string_view haystack, std::string_view needle) {
    std::size_t n = 0;
    for (auto at = haystack.find(needle); at != std::string_view::npos;
         at = haystack.find(needle, at + 1)) {
        ++n;
    }
    return n;
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
        http_client client(port());
        client.send(request);
        const auto reply = read_until_close(client);
        EXPECT_FALSE(reply.timed_out) << "the connection stayed open: " << reply.bytes;
        EXPECT_EQ(count_of(reply.bytes, "HTTP/1."), 1U) << reply.bytes;
        EXPECT_EQ(reply.bytes.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0U) << reply.bytes;
        EXPECT_NE(reply.bytes.find("\r\nConnection: close\r\n"), std::string::npos) << reply.bytes;
        EXPECT_TRUE(reply.bytes.ends_with("\r\n\r\n" + bad_request_body)) << reply.bytes;
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

// A HEAD request the parser refuses gets its 400 without a body too (then the close).
TEST_F(HttpFramingTest, MalformedHeadRequestIs400WithoutBody) {
    start();
    http_client client(port());
    client.send("HEAD /login HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n");
    const auto reply = read_until_close(client);
    ASSERT_FALSE(reply.timed_out) << reply.bytes;
    EXPECT_EQ(reply.bytes.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0U) << reply.bytes;
    EXPECT_NE(reply.bytes.find("\r\nContent-Length: 0\r\n"), std::string::npos) << reply.bytes;
    EXPECT_TRUE(reply.bytes.ends_with("\r\n\r\n")) << reply.bytes;
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
