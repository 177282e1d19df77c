// /verify, /healthz, /readyz and /metrics against the real authd.
#include <ctime>
#include <regex>

#include "harness.hpp"

namespace authd_it {
namespace {

class OpsTest : public authd_test {
  protected:
    std::string login_token() {
        http_client c(port());
        const auto r = c.roundtrip(login_request("user_test", "password_test"));
        const auto token = token_of(r.body());
        EXPECT_TRUE(token.has_value()) << r.body();
        return token.value_or("");
    }
};

TEST_F(OpsTest, VerifyAcceptsTokenHeaderAndBearer) {
    env_.add_user("user_test", "password_test");
    start();
    const auto token = login_token();
    const auto exp = split_jwt(token).value().payload;
    http_client c(port());
    for (const auto& h :
         {"Token: " + token, "Authorization: Bearer " + token, "authorization: bearer  " + token}) {
        const auto r = c.roundtrip(make_request("GET", "/verify", {h}));
        EXPECT_EQ(r.result_int(), 200) << h;
        EXPECT_TRUE(std::regex_match(
            r.body(), std::regex(R"(\{"code":200,"status":"ok","user":"user_test","exp":\d+\})")))
            << r.body();
    }
}

TEST_F(OpsTest, VerifyRefusesWhatItMust) {
    env_.add_user("user_test", "password_test");
    start();
    const auto token = login_token();
    auto forged = token;
    forged[forged.size() - 5] = forged[forged.size() - 5] == 'A' ? 'B' : 'A';
    const std::string none_alg =
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0." + split_jwt(token).value().header + ".";
    http_client c(port());
    const auto invalid = error_body(401, "Invalid or expired token.");
    for (const auto& t : {forged, none_alg, std::string("not-a-token"), token + "x"}) {
        const auto r = c.roundtrip(make_request("GET", "/verify", {"Token: " + t}));
        EXPECT_EQ(status_line(r), "HTTP/1.1 401 Unauthorized") << t;
        EXPECT_EQ(r.body(), invalid);
        EXPECT_EQ(header(r, "WWW-Authenticate"), R"(Bearer error="invalid_token")");
    }
    const auto missing = c.roundtrip(make_request("GET", "/verify", {}));
    EXPECT_EQ(missing.result_int(), 400);
    EXPECT_EQ(missing.body(), error_body(402, "Required field < Token > is not specified."));
    const auto both = c.roundtrip(
        make_request("GET", "/verify", {"Token: " + token, "Authorization: Bearer " + token}));
    EXPECT_EQ(both.body(), error_body(400, "Field < Token > is duplicated."));
}

TEST_F(OpsTest, ExpiredTokenIsRefused) {
    env_.add_user("user_test", "password_test");
    start(authd_args{}.with({"--token-ttl", "1s"}));
    const auto token = login_token();
    http_client c(port());
    EXPECT_EQ(c.roundtrip(make_request("GET", "/verify", {"Token: " + token})).result_int(), 200);
    std::this_thread::sleep_for(2100ms);
    EXPECT_EQ(c.roundtrip(make_request("GET", "/verify", {"Token: " + token})).result_int(), 401);
}

// A token made by PyJWT (tests/jwt_make.py) with the test's key and these claims, and PyJWT's own
// verdict on it ("accepted" or "rejected <exception>").
struct pyjwt_token {
    std::string token;
    std::string verdict;
};

pyjwt_token pyjwt_make(const std::string& key_file, const std::string& claims_json) {
    const auto made = run_command({python_bin(), tests_dir() + "/jwt_make.py"}, claims_json,
                                  {{"JWT_KEY_FILE", key_file}}, 60s);
    EXPECT_EQ(made.exit_code, 0) << made.err;
    const auto newline = made.out.find('\n');
    if (newline == std::string::npos) {
        return {};
    }
    auto verdict = made.out.substr(newline + 1);
    while (!verdict.empty() && verdict.back() == '\n') {
        verdict.pop_back();
    }
    return {made.out.substr(0, newline), verdict};
}

// RFC 7519 sections 4.1.5 and 4.1.6: a token whose nbf or iat lies in the future (beyond a second
// of leeway) is refused, as PyJWT refuses it; one whose nbf and iat have passed is accepted.
TEST_F(OpsTest, VerifyHonoursNotBeforeAndIssuedAt) {
    start();
    const auto now = unix_now();
    const auto claims = [&](const std::string& extra) {
        return R"({"user":"user_test","exp":)" + std::to_string(now + 600) + extra + "}";
    };
    struct row {
        std::string extra;
        int status;
        std::string verdict;
    };
    const row rows[] = {
        {R"(,"nbf":)" + std::to_string(now + 60), 401, "rejected ImmatureSignatureError"},
        {R"(,"iat":)" + std::to_string(now + 60), 401, "rejected ImmatureSignatureError"},
        {R"(,"nbf":)" + std::to_string(now + 3600) + R"(,"iat":)" + std::to_string(now - 60), 401,
         "rejected ImmatureSignatureError"},
        {R"(,"iat":"yesterday")", 401, "rejected InvalidIssuedAtError"},
        {R"(,"nbf":)" + std::to_string(now - 60), 200, "accepted"},
        {R"(,"iat":)" + std::to_string(now - 60), 200, "accepted"},
        {R"(,"nbf":)" + std::to_string(now - 60) + R"(,"iat":)" + std::to_string(now - 60), 200,
         "accepted"},
    };
    http_client c(port());
    for (const auto& r : rows) {
        const auto made = pyjwt_make(env_.key_file(), claims(r.extra));
        ASSERT_FALSE(made.token.empty());
        EXPECT_EQ(made.verdict, r.verdict) << r.extra;
        const auto answer = c.roundtrip(make_request("GET", "/verify", {"Token: " + made.token}));
        EXPECT_EQ(answer.result_int(), r.status) << r.extra;
        if (r.status == 401) {
            EXPECT_EQ(answer.body(), error_body(401, "Invalid or expired token.")) << r.extra;
        }
    }
}

TEST_F(OpsTest, LogoutRevokesTheTokenUntilItExpiresAcrossRestarts) {
    env_.add_user("user_test", "password_test");
    start();
    const auto token = login_token();
    const auto other = login_token();
    http_client c(port());
    EXPECT_EQ(c.roundtrip(make_request("GET", "/verify", {"Token: " + token})).result_int(), 200);
    const auto out =
        c.roundtrip(make_request("POST", "/logout", {"Authorization: Bearer " + token}));
    EXPECT_EQ(out.result_int(), 200);
    EXPECT_EQ(out.body(), R"({"code":200,"status":"ok"})");
    EXPECT_EQ(c.roundtrip(make_request("GET", "/verify", {"Token: " + token})).result_int(), 401);
    EXPECT_EQ(c.roundtrip(make_request("GET", "/verify", {"Token: " + other})).result_int(), 200)
        << "only the token logged out is revoked";
    // Logging out again is answered ok (a client may retry); a forged token is refused.
    EXPECT_EQ(c.roundtrip(make_request("GET", "/logout", {"Token: " + token})).result_int(), 200);
    EXPECT_EQ(c.roundtrip(make_request("GET", "/logout", {"Token: x" + token})).result_int(), 401);
    EXPECT_EQ(c.roundtrip(make_request("GET", "/logout", {})).result_int(), 400);
    c.close();

    ASSERT_EQ(stop_server(), 0);
    start();  // the revocation was stored: it survives the restart
    http_client after(port());
    EXPECT_EQ(after.roundtrip(make_request("GET", "/verify", {"Token: " + token})).result_int(),
              401);
    EXPECT_EQ(after.roundtrip(make_request("GET", "/verify", {"Token: " + other})).result_int(),
              200);
}

// A token in the seed's own format ({"user","exp"}: no jti), as the system authd replaces made it
// with the same key, or one with an empty jti: /verify accepts it, so /logout must revoke it (by
// a digest of the token), and the revocation must hold across a restart like any other.
TEST_F(OpsTest, LogoutRevokesATokenWithoutJtiAcrossRestarts) {
    start();
    const auto exp = std::to_string(unix_now() + 600);
    const auto seed = pyjwt_make(env_.key_file(), R"({"user":"user_test","exp":)" + exp + "}");
    const auto empty =
        pyjwt_make(env_.key_file(), R"({"user":"user_test","exp":)" + exp + R"(,"jti":""})");
    const auto kept =
        pyjwt_make(env_.key_file(), R"({"user":"user_test","exp":)" + exp + R"(,"iat":1})");
    ASSERT_EQ(seed.verdict, "accepted");
    ASSERT_EQ(empty.verdict, "accepted");
    http_client c(port());
    const auto verify = [&](http_client& via, const std::string& token) {
        return via.roundtrip(make_request("GET", "/verify", {"Token: " + token})).result_int();
    };
    for (const auto* token : {&seed.token, &empty.token, &kept.token}) {
        EXPECT_EQ(verify(c, *token), 200);
    }
    for (const auto* token : {&seed.token, &empty.token}) {
        const auto out =
            c.roundtrip(make_request("POST", "/logout", {"Authorization: Bearer " + *token}));
        EXPECT_EQ(out.result_int(), 200) << out.body();
        EXPECT_EQ(verify(c, *token), 401);
        EXPECT_EQ(
            c.roundtrip(make_request("GET", "/forward-auth", {"Token: " + *token})).result_int(),
            401);
    }
    EXPECT_EQ(verify(c, kept.token), 200) << "another token without jti is not revoked with them";
    c.close();

    ASSERT_EQ(stop_server(), 0);
    start();
    http_client after(port());
    EXPECT_EQ(verify(after, seed.token), 401);
    EXPECT_EQ(verify(after, empty.token), 401);
    EXPECT_EQ(verify(after, kept.token), 200);
}

TEST_F(OpsTest, HealthAndReadiness) {
    start();
    http_client c(port());
    for (const auto* path : {"/healthz", "/readyz"}) {
        const auto r = c.roundtrip(make_request("GET", path, {}));
        EXPECT_EQ(r.result_int(), 200) << path;
        EXPECT_EQ(r.body(), R"({"code":200,"status":"ok"})");
    }
}

TEST_F(OpsTest, MetricsCountAndPassPromtool) {
    env_.add_user("user_test", "password_test");
    start();
    login_token();
    http_client c(port());
    c.roundtrip(login_request("user_test", "wrong"));
    c.roundtrip(make_request("GET", "/login", {}));
    const auto r = c.roundtrip(make_request("GET", "/metrics", {}));
    ASSERT_EQ(r.result_int(), 200);
    EXPECT_EQ(header(r, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    const auto& m = r.body();
    for (const auto* line :
         {"authd_requests_total{route=\"login\",code=\"200\"} 1\n",
          "authd_requests_total{route=\"login\",code=\"404\"} 1\n",
          "authd_requests_total{route=\"login\",code=\"402\"} 1\n",
          "authd_login_duration_seconds_count 2\n", "authd_hash_workers 2\n",
          "authd_user_cache_misses_total 1\n", "authd_user_cache_hits_total 1\n"}) {
        EXPECT_NE(m.find(line), std::string::npos) << line << "\nin:\n" << m;
    }
    EXPECT_TRUE(std::regex_search(m, std::regex("\nauthd_connections_open [1-9]")));
    // The independent check of the exposition format: Prometheus's own linter.
    const auto lint = run_command({"promtool", "check", "metrics"}, m);
    EXPECT_EQ(lint.exit_code, 0) << lint.out << lint.err;
}

TEST_F(OpsTest, RequestLinesAreJsonWithTimeAndLatency) {
    start();
    const auto before = unix_now();
    http_client c(port());
    c.roundtrip(make_request("GET", "/login", {"User-Name: someone"}));
    ASSERT_TRUE(server().wait_for_stderr(R"("event":"request")", 5s));
    std::string line;
    for (const auto& l : server().stderr_lines()) {
        if (l.find(R"("event":"request")") != std::string::npos) {
            line = l;
        }
    }
    std::smatch m;
    ASSERT_TRUE(std::regex_match(
        line, m,
        std::regex(
            R"re(\{"time":"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.\d{3}Z","level":"info",)re"
            R"re("event":"request","client":"127\.0\.0\.1","route":"login","code":"402",)re"
            R"re("latency_ms":"(\d+)\.\d{3}","user":"someone"\})re")))
        << line;
    // The time is UTC and now (to the second the test took).
    std::tm tm{};
    tm.tm_year = std::stoi(m[1]) - 1900;
    tm.tm_mon = std::stoi(m[2]) - 1;
    tm.tm_mday = std::stoi(m[3]);
    tm.tm_hour = std::stoi(m[4]);
    tm.tm_min = std::stoi(m[5]);
    tm.tm_sec = std::stoi(m[6]);
    const auto logged = timegm(&tm);
    EXPECT_GE(logged, before);
    EXPECT_LE(logged, unix_now());
    EXPECT_LT(std::stoi(m[7]), 5000);  // a cheap answer: milliseconds, not seconds
}

TEST_F(OpsTest, HealthChecksAndScrapesAreNotLogged) {
    start();
    http_client c(port());
    c.roundtrip(make_request("GET", "/healthz", {}));
    c.roundtrip(make_request("GET", "/metrics", {}));
    c.roundtrip(make_request("GET", "/login", {"Password: secret-value"}));
    EXPECT_TRUE(server().wait_for_stderr(R"("event":"request")", 5s));
    const auto log = server().stderr_text();
    EXPECT_EQ(log.find(R"("route":"healthz")"), std::string::npos);
    EXPECT_EQ(log.find(R"("route":"metrics")"), std::string::npos);
    EXPECT_NE(log.find(R"("route":"login","code":"402")"), std::string::npos) << log;
    EXPECT_EQ(log.find("secret-value"), std::string::npos);
}

}  // namespace
}  // namespace authd_it
