// GET/POST /login end to end: the real authd on an ephemeral port, users made with authctl, over
// real sockets (docs/api.md).
#include <atomic>
#include <barrier>
#include <exception>
#include <mutex>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace authd_it {
namespace {

constexpr std::string_view seed_user = "user_test";
constexpr std::string_view seed_password = "password_test";

// What every authd response carries, whatever its code.
void expect_common_headers(const response& r) {
    EXPECT_EQ(header(r, "Content-Type"), "application/json");
    EXPECT_EQ(header(r, "Cache-Control"), "no-store");
    EXPECT_EQ(header_count(r, "Content-Type"), 1U);
    EXPECT_EQ(header(r, "Content-Length"), std::to_string(r.body().size()));
}

// The response is exactly this status line and body (and the common headers).
void expect_response(const response& r, std::string_view status, std::string_view body) {
    EXPECT_EQ(status_line(r), status);
    EXPECT_EQ(r.body(), body);
    expect_common_headers(r);
}

// The response is a 200 with a token for user, its payload's exp within the given bounds.
// Returns the token ("" on failure).
std::string expect_token(const response& r, std::string_view user, std::int64_t exp_min,
                         std::int64_t exp_max) {
    EXPECT_EQ(status_line(r), "HTTP/1.1 200 OK");
    expect_common_headers(r);
    const auto token = token_of(r.body());
    EXPECT_TRUE(token) << "not a {\"code\":200,\"status\":\"ok\",\"token\":\"...\"} body: "
                       << r.body();
    if (!token) {
        return {};
    }
    const auto parts = split_jwt(*token);
    EXPECT_TRUE(parts) << "not a JWT: " << *token;
    if (!parts) {
        return {};
    }
    EXPECT_EQ(parts->header, seed_jwt_header);
    // HMAC-SHA256: 32 bytes, 43 base64url characters without padding.
    EXPECT_EQ(parts->signature.size(), 43U) << *token;
    EXPECT_TRUE(base64url_decode(parts->signature)) << *token;
    const auto payload = parse_payload(parts->payload);
    EXPECT_TRUE(payload) << "payload is not {\"user\":\"...\",\"exp\":N}: " << parts->payload;
    if (!payload) {
        return {};
    }
    EXPECT_EQ(payload->user, user);
    EXPECT_GE(payload->exp, exp_min);
    EXPECT_LE(payload->exp, exp_max);
    return *token;
}

// A 200 for user with the default lifetime, 30 minutes (with slack for the clock and the run).
std::string expect_token(const response& r, std::string_view user) {
    const auto now = unix_now();
    return expect_token(r, user, now + 1800 - 60, now + 1800 + 5);
}

class LoginTest : public authd_test {
  protected:
    void SetUp() override { env_.add_user(std::string(seed_user), std::string(seed_password)); }
};

// --- the seed's example ----------------------------------------------------------------------

TEST_F(LoginTest, SeedExampleAnswersTokenForUserTest) {
    start();
    http_client client(port());
    const auto before = unix_now();
    const auto r = client.roundtrip(
        "GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nPassword: password_test\r\n"
        "User-Name: user_test\r\n\r\n");
    const auto after = unix_now();
    const auto token = expect_token(r, seed_user, before + 1800 - 5, after + 1800 + 5);
    ASSERT_FALSE(token.empty());
    EXPECT_EQ(token.substr(0, seed_jwt_header.size() + 1), std::string(seed_jwt_header) + ".");
    EXPECT_TRUE(r.keep_alive());
}

TEST_F(LoginTest, TokenIsAcceptedByPyJwtAndOnlyWithTheRightKey) {
    start();
    http_client client(port());
    const auto token =
        expect_token(client.roundtrip(login_request(seed_user, seed_password)), seed_user);
    ASSERT_FALSE(token.empty());

    const auto good = jwt_check(env_.key_file(), std::string(seed_user), token);
    ASSERT_EQ(good.exit_code, 0) << "jwt_check.py (" << python_bin()
                                 << ") rejected authd's token: " << good.err << good.out;

    // The check can fail: another key, another user, a changed payload.
    const auto other_key = env_.dir().file("other.key");
    test_env::generate_key(other_key);
    const auto wrong_key = jwt_check(other_key, std::string(seed_user), token);
    EXPECT_EQ(wrong_key.exit_code, 1) << wrong_key.err;
    EXPECT_NE(wrong_key.err.find("InvalidSignatureError"), std::string::npos) << wrong_key.err;

    const auto wrong_user = jwt_check(env_.key_file(), "someone_else", token);
    EXPECT_EQ(wrong_user.exit_code, 1) << wrong_user.err;

    auto parts = split_jwt(token);
    ASSERT_TRUE(parts);
    // {"user":"user_tesu",...}: same length, one byte changed, the old signature.
    auto forged_payload = parts->payload;
    forged_payload[forged_payload.find("user_test") + 8] = 'u';
    const auto dot1 = token.find('.');
    const auto dot2 = token.find('.', dot1 + 1);
    std::string forged_b64;
    {
        static constexpr char alphabet[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        std::uint32_t acc = 0;
        int bits = 0;
        for (const unsigned char c : forged_payload) {
            acc = (acc << 8) | c;
            bits += 8;
            while (bits >= 6) {
                bits -= 6;
                forged_b64 += alphabet[(acc >> bits) & 63];
            }
        }
        if (bits > 0) {
            forged_b64 += alphabet[(acc << (6 - bits)) & 63];
        }
    }
    ASSERT_EQ(base64url_decode(forged_b64), forged_payload);
    const auto forged = token.substr(0, dot1 + 1) + forged_b64 + token.substr(dot2);
    const auto tampered = jwt_check(env_.key_file(), "user_tesu", forged);
    EXPECT_EQ(tampered.exit_code, 1) << tampered.err;
}

TEST_F(LoginTest, TokenLifetimeIsConfigurable) {
    start(authd_args().with({"--token-ttl", "5m"}));
    http_client client(port());
    const auto before = unix_now();
    const auto r = client.roundtrip(login_request(seed_user, seed_password));
    const auto after = unix_now();
    expect_token(r, seed_user, before + 300 - 5, after + 300 + 5);
}

TEST_F(LoginTest, PostWithBodyIsAnsweredLikeGet) {
    start();
    http_client client(port());
    const std::string body = R"({"ignored":"body"})";
    expect_token(client.roundtrip("POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  "Password: password_test\r\nUser-Name: user_test\r\n"
                                  "Content-Type: application/json\r\nContent-Length: " +
                                  std::to_string(body.size()) + "\r\n\r\n" + body),
                 seed_user);
    // A chunked body, then a plain GET on the same connection: the body was consumed entirely.
    expect_token(client.roundtrip("POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  "User-Name: user_test\r\nPassword: password_test\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n"
                                  "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
                 seed_user);
    expect_token(client.roundtrip(login_request(seed_user, seed_password)), seed_user);
    // An empty POST.
    expect_token(client.roundtrip("POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  "Password: password_test\r\nUser-Name: user_test\r\n"
                                  "Content-Length: 0\r\n\r\n"),
                 seed_user);
}

TEST_F(LoginTest, HeaderNamesAreCaseInsensitive) {
    start();
    http_client client(port());
    for (const auto& [p, u] : std::vector<std::pair<std::string, std::string>>{
             {"password", "user-name"}, {"PASSWORD", "USER-NAME"}, {"pAsSwOrD", "User-name"}}) {
        SCOPED_TRACE(p + " / " + u);
        expect_token(client.roundtrip(
                         make_request("GET", "/login", {p + ": password_test", u + ": user_test"})),
                     seed_user);
    }
    // In the other order.
    expect_token(client.roundtrip(make_request(
                     "GET", "/login", {"user-name: user_test", "password: password_test"})),
                 seed_user);
    // A lower-case name counts for "missing" and "duplicated" too.
    expect_response(client.roundtrip(make_request("GET", "/login", {"password: password_test"})),
                    "HTTP/1.1 400 Bad Request",
                    error_body(402, "Required field < User-Name > is not specified."));
    expect_response(
        client.roundtrip(make_request(
            "GET", "/login",
            {"Password: password_test", "password: password_test", "User-Name: user_test"})),
        "HTTP/1.1 400 Bad Request", error_body(400, "Field < Password > is duplicated."));
}

TEST_F(LoginTest, HeaderValuesAreCaseSensitive) {
    start();
    http_client client(port());
    expect_response(client.roundtrip(login_request(seed_user, "Password_test")),
                    "HTTP/1.1 404 Not Found", error_body(404, "Data not found."));
}

// --- every error row -------------------------------------------------------------------------

struct error_row {
    const char* name;
    std::string request;
    std::string status;
    std::string body;
};

std::string missing(std::string_view field) {
    return error_body(402, "Required field < " + std::string(field) + " > is not specified.");
}
std::string empty(std::string_view field) {
    return error_body(402, "Required field < " + std::string(field) + " > is empty.");
}
std::string duplicated(std::string_view field) {
    return error_body(400, "Field < " + std::string(field) + " > is duplicated.");
}

const std::string P = "Password: password_test";
const std::string U = "User-Name: user_test";
const std::string bad_request = "HTTP/1.1 400 Bad Request";
const std::string not_found = "HTTP/1.1 404 Not Found";
const std::string not_allowed = "HTTP/1.1 405 Method Not Allowed";

std::vector<error_row> error_rows() {
    const auto get = [](std::vector<std::string> lines) {
        return make_request("GET", "/login", lines);
    };
    return {
        {"password_missing", get({U}), bad_request, missing("Password")},
        {"user_name_missing", get({P}), bad_request, missing("User-Name")},
        {"both_missing_reports_password", get({}), bad_request, missing("Password")},
        {"password_empty", get({"Password:", U}), bad_request, empty("Password")},
        {"password_only_spaces", get({"Password:    ", U}), bad_request, empty("Password")},
        {"user_name_empty", get({P, "User-Name:"}), bad_request, empty("User-Name")},
        {"both_empty_reports_password", get({"Password:", "User-Name:"}), bad_request,
         empty("Password")},
        {"password_empty_user_name_missing", get({"Password:"}), bad_request, empty("Password")},
        {"password_missing_user_name_empty", get({"User-Name:"}), bad_request, missing("Password")},
        {"password_missing_user_name_duplicated", get({U, U}), bad_request, missing("Password")},
        {"password_duplicated", get({P, U, "Password: other"}), bad_request,
         duplicated("Password")},
        {"password_duplicated_same_value", get({P, P, U}), bad_request, duplicated("Password")},
        {"password_duplicated_other_case", get({P, "PASSWORD: x", U}), bad_request,
         duplicated("Password")},
        {"user_name_duplicated", get({P, U, "User-Name: other"}), bad_request,
         duplicated("User-Name")},
        {"both_duplicated_reports_password", get({U, P, U, P}), bad_request,
         duplicated("Password")},
        {"password_duplicated_user_name_missing", get({P, P}), bad_request, duplicated("Password")},
        {"wrong_password", get({"Password: wrong_password", U}), not_found,
         error_body(404, "Data not found.")},
        {"unknown_user", get({P, "User-Name: nobody"}), not_found,
         error_body(404, "Data not found.")},
        {"post_wrong_password",
         make_request("POST", "/login", {"Password: nope", U, "Content-Length: 0"}), not_found,
         error_body(404, "Data not found.")},
        {"unknown_path", make_request("GET", "/logoff", {P, U}), not_found,
         error_body(404, "Path not found.")},
        {"root_path", make_request("GET", "/", {}), not_found, error_body(404, "Path not found.")},
        {"path_below_login", make_request("GET", "/login/more", {P, U}), not_found,
         error_body(404, "Path not found.")},
        {"method_put", make_request("PUT", "/login", {P, U, "Content-Length: 0"}), not_allowed,
         error_body(405, "Method not allowed.")},
        {"method_delete", make_request("DELETE", "/login", {P, U}), not_allowed,
         error_body(405, "Method not allowed.")},
        {"method_patch", make_request("PATCH", "/login", {P, U, "Content-Length: 0"}), not_allowed,
         error_body(405, "Method not allowed.")},
        {"method_options", make_request("OPTIONS", "/login", {}), not_allowed,
         error_body(405, "Method not allowed.")},
    };
}

// gtest prints a parameter: its name, not its bytes.
void PrintTo(const error_row& row, std::ostream* os) {
    *os << row.name;
}

class LoginErrorTest : public LoginTest, public ::testing::WithParamInterface<error_row> {};

TEST_P(LoginErrorTest, AnswersExactBodyAndStatus) {
    start();
    const auto& row = GetParam();
    http_client client(port());
    const auto r = client.roundtrip(row.request);
    expect_response(r, row.status, row.body);
    if (row.status == not_allowed) {
        EXPECT_EQ(header(r, "Allow"), "GET, POST");
    }
    // The connection stays usable after an error answer.
    EXPECT_TRUE(r.keep_alive());
    expect_token(client.roundtrip(login_request(seed_user, seed_password)), seed_user);
}

INSTANTIATE_TEST_SUITE_P(Rows, LoginErrorTest, ::testing::ValuesIn(error_rows()),
                         [](const ::testing::TestParamInfo<error_row>& info) {
                             return std::string(info.param.name);
                         });

TEST_F(LoginTest, WrongPasswordAndUnknownUserAreIndistinguishable) {
    env_.add_user("other_user", "other_password");
    start();
    http_client client(port());
    const auto wrong = client.roundtrip(login_request(seed_user, "not_the_password"));
    const auto unknown = client.roundtrip(login_request("no_such_user", seed_password));
    // A real user's password for another, existing user.
    const auto crossed = client.roundtrip(login_request("other_user", seed_password));
    for (const auto* r : {&wrong, &unknown, &crossed}) {
        expect_response(*r, not_found, error_body(404, "Data not found."));
    }
    // Same headers, in the same order, apart from the date.
    auto names = [](const response& r) {
        std::vector<std::pair<std::string, std::string>> out;
        for (const auto& f : r) {
            if (!boost::beast::iequals(f.name_string(), "Date")) {
                out.emplace_back(std::string(f.name_string()), std::string(f.value()));
            }
        }
        return out;
    };
    EXPECT_EQ(names(wrong), names(unknown));
    EXPECT_EQ(names(wrong), names(crossed));
    EXPECT_EQ(wrong.body(), unknown.body());
}

// Header lines of 3 KiB each (under any per-header limit) adding up to about kib KiB.
std::vector<std::string> filler_headers(int kib) {
    std::vector<std::string> lines{P, U};
    for (int i = 0; i < kib / 3; ++i) {
        lines.push_back("X-Filler-" + std::to_string(i) + ": " + std::string(3 * 1024, 'a'));
    }
    return lines;
}

TEST_F(LoginTest, HeadersOver8KiBAre431AndCloseTheConnection) {
    start();
    // One 10 KiB header.
    http_client client(port());
    const auto r = client.roundtrip(
        make_request("GET", "/login", {P, U, "X-Filler: " + std::string(10 * 1024, 'a')}));
    expect_response(r, "HTTP/1.1 431 Request Header Fields Too Large",
                    error_body(431, "Request header fields too large."));
    EXPECT_FALSE(r.keep_alive());
    EXPECT_EQ(to_string(client.wait_close(10s)), std::string("eof"));
    // Smaller headers adding up past 8 KiB.
    http_client second(port());
    const auto r2 = second.roundtrip(make_request("GET", "/login", filler_headers(12)));
    expect_response(r2, "HTTP/1.1 431 Request Header Fields Too Large",
                    error_body(431, "Request header fields too large."));
    EXPECT_FALSE(r2.keep_alive());
    EXPECT_EQ(to_string(second.wait_close(10s)), std::string("eof"));
}

TEST_F(LoginTest, HeadersJustUnder8KiBAreAccepted) {
    start();
    http_client client(port());
    // Request line + headers under the limit (about 6 KiB).
    expect_token(client.roundtrip(make_request("GET", "/login", filler_headers(6))), seed_user);
}

TEST_F(LoginTest, BodyOver8KiBIs413) {
    start();
    http_client client(port());
    const std::string body(10 * 1024, 'x');
    const auto r =
        client.roundtrip("POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n" + P + "\r\n" + U +
                         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    EXPECT_EQ(status_line(r), "HTTP/1.1 413 Content Too Large");
    EXPECT_EQ(r.body(), error_body(413, "Request body too large."));
    expect_common_headers(r);
    EXPECT_FALSE(r.keep_alive());
    EXPECT_EQ(to_string(client.wait_close(10s)), std::string("eof"));
}

TEST_F(LoginTest, MalformedRequestIs400AndClosesTheConnection) {
    start();
    http_client client(port());
    const auto r = client.roundtrip("THIS IS NOT HTTP\r\n\r\n");
    expect_response(r, bad_request, error_body(400, "Bad request."));
    EXPECT_FALSE(r.keep_alive());
    EXPECT_EQ(to_string(client.wait_close(10s)), std::string("eof"));
}

// --- connections -----------------------------------------------------------------------------

TEST_F(LoginTest, KeepAliveAnswers200RequestsOnOneConnection) {
    start();
    http_client client(port());
    for (int i = 0; i < 200; ++i) {
        SCOPED_TRACE("request " + std::to_string(i));
        response r;
        switch (i % 5) {
            case 0:
                r = client.roundtrip(login_request(seed_user, seed_password));
                expect_token(r, seed_user);
                break;
            case 1:
                r = client.roundtrip(make_request("GET", "/login", {U}));
                expect_response(r, bad_request, missing("Password"));
                break;
            case 2:
                r = client.roundtrip(make_request("GET", "/nowhere", {}));
                expect_response(r, not_found, error_body(404, "Path not found."));
                break;
            case 3:
                // (Not a wrong password: failed logins are rate-limited, successful ones not.)
                r = client.roundtrip(make_request("POST", "/login", {P, "User-Name:"}));
                expect_response(r, bad_request, empty("User-Name"));
                break;
            default:
                r = client.roundtrip(make_request("DELETE", "/login", {P, U}));
                expect_response(r, not_allowed, error_body(405, "Method not allowed."));
                break;
        }
        ASSERT_TRUE(r.keep_alive());
        if (HasFailure()) {
            break;
        }
    }
}

TEST_F(LoginTest, PipelinedRequestsAreAnsweredInOrder) {
    env_.add_user("alice", "alice_password");
    env_.add_user("bob", "bob_password");
    start();
    // 20 requests in one write: logins of three users (they finish on the hash workers in any
    // order) between cheap errors answered at once.
    std::string batch;
    std::vector<std::function<void(const response&)>> checks;
    for (int i = 0; i < 20; ++i) {
        switch (i % 6) {
            case 0:
                batch += login_request(seed_user, seed_password);
                checks.emplace_back([](const response& r) { expect_token(r, seed_user); });
                break;
            case 1:
                batch += make_request("GET", "/login", {"User-Name: alice"});
                checks.emplace_back([](const response& r) {
                    expect_response(r, bad_request, missing("Password"));
                });
                break;
            case 2:
                batch += login_request("alice", "alice_password");
                checks.emplace_back([](const response& r) { expect_token(r, "alice"); });
                break;
            case 3:
                batch += login_request("bob", "wrong");
                checks.emplace_back([](const response& r) {
                    expect_response(r, not_found, error_body(404, "Data not found."));
                });
                break;
            case 4:
                batch +=
                    "POST /login HTTP/1.1\r\nHost: x\r\nPassword: bob_password\r\n"
                    "User-Name: bob\r\nContent-Length: 3\r\n\r\nabc";
                checks.emplace_back([](const response& r) { expect_token(r, "bob"); });
                break;
            default:
                batch += make_request("GET", "/elsewhere", {});
                checks.emplace_back([](const response& r) {
                    expect_response(r, not_found, error_body(404, "Path not found."));
                });
                break;
        }
    }
    http_client client(port());
    client.send(batch);
    for (std::size_t i = 0; i < checks.size(); ++i) {
        SCOPED_TRACE("response " + std::to_string(i));
        const auto r = client.read_response();
        checks[i](r);
        EXPECT_TRUE(r.keep_alive());
    }
    // Nothing more: the connection is idle and open.
    EXPECT_EQ(to_string(client.wait_close(200ms)), std::string("timeout"));
}

TEST_F(LoginTest, PipelinedRequestsEndingWithConnectionClose) {
    start();
    http_client client(port());
    client.send(login_request(seed_user, seed_password) + make_request("GET", "/login", {U}) +
                login_request(seed_user, seed_password, /*close=*/true));
    expect_token(client.read_response(), seed_user);
    expect_response(client.read_response(), bad_request, missing("Password"));
    const auto last = client.read_response();
    expect_token(last, seed_user);
    EXPECT_FALSE(last.keep_alive());
    EXPECT_EQ(to_string(client.wait_close(10s)), std::string("eof"));
}

TEST_F(LoginTest, PipelinedAnswersWaitForAClientThatReadsSlowly) {
    // A client that pipelines more answers than the sockets' buffers hold (4,500 scrapes of about
    // 2 KiB and a health check after every ninth, 10 MB; loopback buffers hold less) and does not
    // read for a while: authd's send does not take them whole, the rest waits for the socket,
    // nothing is lost or reordered.
    auto args = authd_args();
    start(args.with({"--max-requests-per-connection", "10000"}));
    http_client client(port());
    constexpr int count = 5000;
    std::string batch;
    for (int i = 0; i < count; ++i) {
        batch += make_request("GET", i % 10 == 9 ? "/healthz" : "/metrics", {});
    }
    // The sender's failure is the test's (an exception out of a thread would end the process).
    std::exception_ptr send_failure;
    std::thread sender([&] {
        try {
            client.send(batch);
        } catch (...) {
            send_failure = std::current_exception();
        }
    });
    std::this_thread::sleep_for(300ms);  // the answers pile up in authd meanwhile
    // Read raw bytes and split them into answers, in the order of the requests.
    std::string in;
    std::size_t at = 0;
    int answers = 0;
    std::vector<char> chunk(1 << 20);
    while (answers < count && !HasFailure()) {
        const auto head_end = in.find("\r\n\r\n", at);
        const auto length_at = in.find("Content-Length: ", at);
        if (head_end != std::string::npos && length_at < head_end) {
            const auto length = std::stoul(in.substr(length_at + 16, 12));
            if (in.size() >= head_end + 4 + length) {
                const auto body = in.substr(head_end + 4, length);
                EXPECT_EQ(in.compare(at, 15, "HTTP/1.1 200 OK"), 0) << "answer " << answers;
                if (answers % 10 == 9) {
                    EXPECT_EQ(body, R"({"code":200,"status":"ok"})") << "answer " << answers;
                } else {
                    EXPECT_EQ(body.rfind("# HELP", 0), 0u) << "answer " << answers;
                }
                at = head_end + 4 + length;
                ++answers;
                continue;
            }
        }
        const auto n = ::recv(client.fd(), chunk.data(), chunk.size(), 0);
        if (n <= 0) {
            ADD_FAILURE() << "the connection ended after " << answers << " answers";
            break;
        }
        in.append(chunk.data(), static_cast<std::size_t>(n));
    }
    if (HasFailure()) {
        ::shutdown(client.fd(), SHUT_RDWR);  // a sender blocked on the full socket returns
    }
    sender.join();
    if (send_failure && !HasFailure()) {
        ADD_FAILURE() << "sending the requests failed";
    }
    EXPECT_EQ(answers, count);
    EXPECT_EQ(at, in.size());  // nothing more than the answers
}

TEST_F(LoginTest, Http10WithoutKeepAliveClosesAfterTheResponse) {
    start();
    http_client client(port());
    const auto r = client.roundtrip(
        "GET /login HTTP/1.0\r\nPassword: password_test\r\nUser-Name: user_test\r\n\r\n");
    expect_token(r, seed_user);
    EXPECT_EQ(to_string(client.wait_close(10s)), std::string("eof"));
}

TEST_F(LoginTest, Http10WithKeepAliveKeepsTheConnection) {
    start();
    http_client client(port());
    const std::string request =
        "GET /login HTTP/1.0\r\nConnection: keep-alive\r\nPassword: password_test\r\n"
        "User-Name: user_test\r\n\r\n";
    const auto first = client.roundtrip(request);
    expect_token(first, seed_user);
    EXPECT_TRUE(boost::beast::iequals(header(first, "Connection"), "keep-alive"))
        << header(first, "Connection");
    expect_token(client.roundtrip(request), seed_user);
}

TEST_F(LoginTest, Http11ConnectionCloseIsHonoured) {
    start();
    http_client client(port());
    const auto r = client.roundtrip(login_request(seed_user, seed_password, /*close=*/true));
    expect_token(r, seed_user);
    EXPECT_FALSE(r.keep_alive());
    EXPECT_EQ(to_string(client.wait_close(10s)), std::string("eof"));
}

TEST_F(LoginTest, ManyConcurrentLoginsAllSucceed) {
    const std::vector<std::pair<std::string, std::string>> users{
        {std::string(seed_user), std::string(seed_password)},
        {"carol", "carol_password"},
        {"dave", "dave_password"},
        {"erin", "erin_password"}};
    for (std::size_t i = 1; i < users.size(); ++i) {
        env_.add_user(users[i].first, users[i].second);
    }
    start(authd_args().workers("2"));
    constexpr int threads = 32;
    constexpr int logins_per_thread = 5;
    std::atomic<int> ok{0};
    std::mutex errors_mutex;
    std::vector<std::string> errors;
    std::barrier sync(threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            try {
                const auto& [user, password] = users[static_cast<std::size_t>(t) % users.size()];
                sync.arrive_and_wait();
                // Even threads reuse one connection, odd ones open one per login.
                std::unique_ptr<http_client> client;
                for (int i = 0; i < logins_per_thread; ++i) {
                    if (!client || t % 2 == 1) {
                        client = std::make_unique<http_client>(port());
                    }
                    const auto r = client->roundtrip(login_request(user, password));
                    const auto token = token_of(r.body());
                    const auto parts = token ? split_jwt(*token) : std::nullopt;
                    const auto payload = parts ? parse_payload(parts->payload) : std::nullopt;
                    if (r.result_int() == 200 && payload && payload->user == user) {
                        ++ok;
                    } else {
                        const std::lock_guard lock(errors_mutex);
                        errors.push_back(user + ": " + status_line(r) + " " + r.body());
                    }
                }
            } catch (const std::exception& e) {
                const std::lock_guard lock(errors_mutex);
                errors.push_back(std::string("exception: ") + e.what());
            }
        });
    }
    for (auto& th : pool) {
        th.join();
    }
    EXPECT_EQ(ok.load(), threads * logins_per_thread);
    for (std::size_t i = 0; i < errors.size() && i < 10; ++i) {
        ADD_FAILURE() << errors[i];
    }
}

TEST_F(LoginTest, FullHashQueueAnswers503AtOnce) {
    env_.add_user("slow_user", "slow_password", costly_hash);
    // (No 503 for waiting too long: every 503 here is the full queue's.)
    start(authd_args().workers("1").queue("1").hash(costly_hash));  // the harness's 60 s timeout
    constexpr int clients = 20;
    int busy = 0;
    int ok = 0;
    // Each round writes 20 logins from 20 addresses (127.0.0.10, .11, ...: one login each, so no
    // per-address limit applies) as fast as it can: one hash runs, one waits in the queue, the
    // others find the whole queue full. Rounds repeat (a few at most) until a 503 was seen.
    for (int round = 0; round < 5 && busy == 0 && !HasFailure(); ++round) {
        std::vector<std::unique_ptr<client_from>> conns;
        for (int i = 0; i < clients; ++i) {
            conns.push_back(
                std::make_unique<client_from>("127.0.0." + std::to_string(10 + i), port()));
        }
        const auto request = login_request("slow_user", "slow_password");
        for (auto& c : conns) {
            ASSERT_TRUE(c->send(request));
        }
        for (auto& c : conns) {
            const auto r = c->read_response();
            if (r.rfind("HTTP/1.1 503 ", 0) == 0) {
                ++busy;
                EXPECT_EQ(r.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0U) << r;
                EXPECT_EQ(body_of(r), error_body(503, "Server busy, retry later."));
                EXPECT_TRUE(has_line(r, "Retry-After: 1")) << r;
            } else {
                ++ok;
                EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << r;
                EXPECT_TRUE(token_of(body_of(r)).has_value()) << r;
            }
        }
    }
    EXPECT_GE(busy, 1) << "no 503 in 5 rounds of 20 simultaneous logins from 20 addresses";
    EXPECT_GE(ok, 1);
    // The server recovers: a login now succeeds.
    http_client after(port());
    expect_token(after.roundtrip(login_request("slow_user", "slow_password")), "slow_user");
}

TEST_F(LoginTest, SlowClientSendingOneByteEvery5msIsAnswered) {
    start();
    http_client client(port());
    client.send_slowly(login_request(seed_user, seed_password), 5ms);
    expect_token(client.read_response(), seed_user);
    // And a slow error request on the same connection.
    client.send_slowly(make_request("GET", "/login", {U}), 5ms);
    expect_response(client.read_response(), bad_request, missing("Password"));
}

}  // namespace
}  // namespace authd_it
