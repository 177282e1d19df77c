// Forward auth (docs/forward-auth.md): /forward-auth answered as proxies expect, and Debian's
// nginx with auth_request in front of an application, configured by docs/nginx-forward-auth.conf
// as it is. Against the real authd and the real nginx.
#include <algorithm>
#include <csignal>
#include <fstream>
#include <regex>
#include <spawn.h>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "harness.hpp"

namespace authd_it {
namespace {

class ForwardAuth : public authd_test {
  protected:
    void SetUp() override {
        env_.add_user("alice", "alice-password");
        env_.add_user("bob", "bob-password");
    }

    std::string token_of_login(const std::string& user, const std::string& password) {
        http_client c(port());
        const auto r = c.roundtrip(login_request(user, password));
        EXPECT_EQ(r.result_int(), 200) << r.body();
        return token_of(r.body()).value_or("");
    }

    response ask(std::string_view method, std::string_view target,
                 const std::vector<std::string>& headers) {
        http_client c(port());
        return c.roundtrip(make_request(method, target, headers));
    }
};

const std::string invalid_body = error_body(401, "Invalid or expired token.");

TEST_F(ForwardAuth, AValidTokenIs200WithTheUserInRemoteUser) {
    start();
    const auto token = token_of_login("alice", "alice-password");
    for (const auto& headers : std::vector<std::vector<std::string>>{
             {"Authorization: Bearer " + token}, {"Token: " + token}}) {
        const auto r = ask("GET", "/forward-auth", headers);
        EXPECT_EQ(r.result_int(), 200) << r.body();
        EXPECT_EQ(header(r, "Remote-User"), "alice");
        EXPECT_EQ(header_count(r, "Remote-User"), 1U);
        EXPECT_EQ(header(r, "X-Auth-Request-User"), "alice");
        EXPECT_EQ(header_count(r, "X-Auth-Request-User"), 1U);
        EXPECT_NE(r.body().find(R"({"code":200,"status":"ok","user":"alice","exp":)"),
                  std::string::npos)
            << r.body();
    }
}

TEST_F(ForwardAuth, AnyMethodAndAnyPathBelowIt) {
    start();
    const auto token = token_of_login("bob", "bob-password");
    for (const auto* method : {"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
        const auto r = ask(method, "/forward-auth/api/items/7?x=1", {"Token: " + token});
        EXPECT_EQ(r.result_int(), 200) << method;
        EXPECT_EQ(header(r, "Remote-User"), "bob") << method;
    }
    // HEAD: the same answer without its body (Content-Length 0: the next response is intact).
    client_from c("127.0.0.1", port());
    ASSERT_TRUE(c.send(make_request("HEAD", "/forward-auth", {"Token: " + token}) +
                       make_request("GET", "/healthz", {})));
    const auto head_response = c.read_response();
    EXPECT_EQ(head_response.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << head_response;
    EXPECT_TRUE(has_line(head_response, "Remote-User: bob")) << head_response;
    EXPECT_TRUE(has_line(head_response, "Content-Length: 0")) << head_response;
    EXPECT_EQ(c.read_response().rfind("HTTP/1.1 200 OK\r\n", 0), 0U);
    // Not below it: another path.
    EXPECT_EQ(ask("GET", "/forward-authx", {"Token: " + token}).result_int(), 404);
}

TEST_F(ForwardAuth, EveryRefusalIs401WithWwwAuthenticate) {
    start();
    const auto token = token_of_login("alice", "alice-password");
    auto forged = token;
    forged.back() = forged.back() == 'A' ? 'B' : 'A';
    const std::vector<std::vector<std::string>> cases = {
        {},                                                     // no token
        {"Authorization: Bearer " + forged},                    // forged signature
        {"Token: not-a-token"},                                 // malformed
        {"Authorization: Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ="},  // another scheme
        {"Token: " + token, "Authorization: Bearer " + token},  // two tokens: which?
        {"Token: " + token, "Token: " + token},                 // one twice
    };
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const auto r = ask("GET", "/forward-auth", cases[i]);
        EXPECT_EQ(r.result_int(), 401) << i;
        EXPECT_EQ(r.body(), invalid_body) << i;
        EXPECT_EQ(header(r, "WWW-Authenticate").rfind("Bearer", 0), 0U) << i;
        EXPECT_EQ(header_count(r, "Remote-User"), 0U) << i;
        EXPECT_EQ(header_count(r, "X-Auth-Request-User"), 0U) << i;
    }
    // Revoked by /logout: refused at once.
    {
        http_client c(port());
        EXPECT_EQ(c.roundtrip(make_request("POST", "/logout", {"Token: " + token})).result_int(),
                  200);
    }
    EXPECT_EQ(ask("GET", "/forward-auth", {"Token: " + token}).result_int(), 401);
}

// docs/nginx-forward-auth.conf as it is, but for its three addresses: authd's, the application's
// and the one nginx listens on.
std::string forward_auth_site(std::uint16_t authd, std::uint16_t app, std::uint16_t listen) {
    auto site = read_file(tests_dir() + "/../docs/nginx-forward-auth.conf");
    const auto replace_one = [&site](const std::regex& pattern, const std::string& with) {
        if (!std::regex_search(site, pattern)) {
            throw std::runtime_error("docs/nginx-forward-auth.conf: no line like " + with);
        }
        site = std::regex_replace(site, pattern, with, std::regex_constants::format_first_only);
    };
    replace_one(std::regex(R"(server 127\.0\.0\.1:8080;)"),
                "server 127.0.0.1:" + std::to_string(authd) + ";");
    replace_one(std::regex(R"(proxy_pass http://127\.0\.0\.1:9000;)"),
                "proxy_pass http://127.0.0.1:" + std::to_string(app) + ";");
    replace_one(std::regex(R"(listen 80;)"), "listen 127.0.0.1:" + std::to_string(listen) + ";");
    return site;
}

// The application for the tests of the sample configurations: nginx, showing the user headers it
// received, and logging every request it gets (so a test can tell it was never reached).
std::string app_site(std::uint16_t app) {
    return "server {\n    listen 127.0.0.1:" + std::to_string(app) +
           ";\n    access_log app_access.log;\n"
           "    location / {\n"
           "        default_type text/plain;\n"
           "        return 200 \"app: remote-user=$http_remote_user "
           "x-auth-request-user=$http_x_auth_request_user\\n\";\n"
           "    }\n}\n";
}

std::size_t lines_in(const std::string& path) {
    const auto text = read_file(path);
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// The lines of an access log once it has at least `expected` (nginx writes a request's line just
// after its response, so a client can read the response first): waits up to 5 s for them, then
// a little longer for any line that should not come.
std::size_t settled_lines(const std::string& path, std::size_t expected) {
    for (int i = 0; i < 100 && lines_in(path) < expected; ++i) {
        std::this_thread::sleep_for(50ms);
    }
    std::this_thread::sleep_for(300ms);
    return lines_in(path);
}

TEST_F(ForwardAuth, NginxAuthRequestPassesOnlyValidTokensAndTheUser) {
    if (!have_nginx()) {
        GTEST_SKIP() << "nginx is not installed (scripts/install-deps.sh installs nginx-light)";
    }
    start(authd_args{}.with({"--token-ttl", "2s"}));
    const auto app = free_port();
    const auto listen = free_port();
    nginx_process nginx(forward_auth_site(port(), app, listen) + app_site(app), listen);
    ASSERT_TRUE(nginx.wait_ready()) << nginx.error_log();
    const auto app_log = nginx.file("app_access.log");
    const auto through_nginx = [&](const std::vector<std::string>& headers) {
        http_client c(listen);
        return c.roundtrip(make_request("GET", "/some/page", headers));
    };

    const auto token = token_of_login("alice", "alice-password");
    // A valid token: the page, with the user; a Remote-User of the client's own never reaches it.
    const auto ok = through_nginx({"Authorization: Bearer " + token, "Remote-User: mallory"});
    EXPECT_EQ(ok.result_int(), 200) << ok.body() << nginx.error_log();
    EXPECT_EQ(ok.body(), "app: remote-user=alice x-auth-request-user=alice\n");
    EXPECT_EQ(through_nginx({"Token: " + token}).body(),
              "app: remote-user=alice x-auth-request-user=alice\n");
    const auto reached = settled_lines(app_log, 2);
    EXPECT_EQ(reached, 2U);

    auto forged = token;
    forged.back() = forged.back() == 'A' ? 'B' : 'A';
    const auto expiring = token_of_login("bob", "bob-password");
    const auto revoked = token_of_login("bob", "bob-password");
    {
        http_client c(port());
        ASSERT_EQ(c.roundtrip(make_request("POST", "/logout", {"Token: " + revoked})).result_int(),
                  200);
    }
    std::this_thread::sleep_for(3500ms);  // past the 2 s lifetime and its 1 s leeway
    const std::vector<std::pair<std::string, std::vector<std::string>>> refused = {
        {"no token", {"Remote-User: alice"}},
        {"forged", {"Authorization: Bearer " + forged}},
        {"expired", {"Token: " + expiring}},
        {"revoked", {"Token: " + revoked}},
    };
    for (const auto& [what, headers] : refused) {
        const auto r = through_nginx(headers);
        EXPECT_EQ(r.result_int(), 401) << what << ": " << r.body();
        EXPECT_EQ(header(r, "WWW-Authenticate").rfind("Bearer", 0), 0U) << what;
    }
    EXPECT_EQ(settled_lines(app_log, reached), reached)
        << "nginx called the application for a refused request";
}

// A program in the background (Caddy), with a few variables added to the environment; killed
// (SIGTERM, then reaped) on destruction.
class background_process {
  public:
    background_process(const std::vector<std::string>& argv,
                       const std::vector<std::string>& extra_env) {
        std::vector<std::string> env_text;
        for (char** e = environ; *e != nullptr; ++e) {
            env_text.emplace_back(*e);
        }
        env_text.insert(env_text.end(), extra_env.begin(), extra_env.end());
        std::vector<char*> args;
        std::vector<char*> env;
        for (const auto& a : argv) {
            args.push_back(const_cast<char*>(a.c_str()));
        }
        args.push_back(nullptr);
        for (const auto& e : env_text) {
            env.push_back(const_cast<char*>(e.c_str()));
        }
        env.push_back(nullptr);
        if (::posix_spawnp(&pid_, args[0], nullptr, nullptr, args.data(), env.data()) != 0) {
            throw std::runtime_error("cannot start " + argv[0]);
        }
    }
    ~background_process() {
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    background_process(const background_process&) = delete;
    background_process& operator=(const background_process&) = delete;

  private:
    pid_t pid_ = -1;
};

bool accepts_connections(std::uint16_t port) {
    for (int i = 0; i < 250; ++i) {
        try {
            http_client probe(port, 1s);
            return true;
        } catch (const std::exception&) {
            std::this_thread::sleep_for(20ms);
        }
    }
    return false;
}

// docs/caddy-forward-auth.Caddyfile as it is, but for its site address (plain HTTP on a loopback
// port) and its two upstreams, after global options that keep Caddy to the test's directory.
std::string caddy_site(std::uint16_t authd, std::uint16_t app, std::uint16_t listen) {
    auto site = read_file(tests_dir() + "/../docs/caddy-forward-auth.Caddyfile");
    const auto replace_one = [&site](const std::string& from, const std::string& to) {
        const auto at = site.find(from);
        if (at == std::string::npos) {
            throw std::runtime_error("docs/caddy-forward-auth.Caddyfile: no " + from);
        }
        site.replace(at, from.size(), to);
    };
    replace_one("app.example.com {",
                "http://127.0.0.1:" + std::to_string(listen) + " {\n\tbind 127.0.0.1");
    replace_one("forward_auth 127.0.0.1:8080 {",
                "forward_auth 127.0.0.1:" + std::to_string(authd) + " {");
    replace_one("reverse_proxy 127.0.0.1:9000", "reverse_proxy 127.0.0.1:" + std::to_string(app));
    return "{\n\tadmin off\n\tauto_https off\n}\n\n" + site;
}

// Caddy running caddy_site(), its home (data, configuration) in a temporary directory.
class caddy_process {
  public:
    caddy_process(std::uint16_t authd, std::uint16_t app, std::uint16_t listen)
        : caddyfile_(home_.file("Caddyfile")),
          written_((std::ofstream(caddyfile_) << caddy_site(authd, app, listen)).good()),
          process_({"caddy", "run", "--config", caddyfile_, "--adapter", "caddyfile"},
                   {"HOME=" + home_.path(), "XDG_DATA_HOME=" + home_.path(),
                    "XDG_CONFIG_HOME=" + home_.path()}) {}

  private:
    temp_dir home_;
    std::string caddyfile_;
    bool written_;
    background_process process_;
};

bool have_caddy() {
    return run_command({"sh", "-c", "command -v caddy"}).exit_code == 0;
}

TEST_F(ForwardAuth, CaddyForwardAuthPassesOnlyValidTokensAndTheUser) {
    if (!have_caddy() || !have_nginx()) {
        GTEST_SKIP() << "caddy or nginx is not installed (scripts/install-deps.sh installs both)";
    }
    start();
    const auto app = free_port();
    const auto listen = free_port();
    nginx_process application(app_site(app), app);
    ASSERT_TRUE(application.wait_ready()) << application.error_log();
    const caddy_process caddy(port(), app, listen);
    ASSERT_TRUE(accepts_connections(listen)) << "caddy did not start";
    const auto app_log = application.file("app_access.log");
    const auto through_caddy = [&](const std::vector<std::string>& headers) {
        http_client c(listen);
        return c.roundtrip(make_request("GET", "/some/page", headers));
    };

    const auto token = token_of_login("alice", "alice-password");
    const auto ok = through_caddy({"Authorization: Bearer " + token, "Remote-User: mallory"});
    EXPECT_EQ(ok.result_int(), 200) << ok.body();
    EXPECT_EQ(ok.body(), "app: remote-user=alice x-auth-request-user=alice\n");
    const auto reached = settled_lines(app_log, 1);
    EXPECT_EQ(reached, 1U);

    auto forged = token;
    forged.back() = forged.back() == 'A' ? 'B' : 'A';
    const auto revoked = token_of_login("bob", "bob-password");
    {
        http_client c(port());
        ASSERT_EQ(c.roundtrip(make_request("POST", "/logout", {"Token: " + revoked})).result_int(),
                  200);
    }
    for (const auto& headers : std::vector<std::vector<std::string>>{
             {"Remote-User: alice"}, {"Authorization: Bearer " + forged}, {"Token: " + revoked}}) {
        const auto r = through_caddy(headers);
        EXPECT_EQ(r.result_int(), 401) << r.body();
        EXPECT_EQ(header(r, "WWW-Authenticate").rfind("Bearer", 0), 0U);
    }
    EXPECT_EQ(settled_lines(app_log, reached), reached)
        << "caddy called the application for a refused request";
}

// The application of the tests below: tests/echo_app.py, answering each request with the header
// lines it received, names as sent (Remote_User included, as CGI, WSGI and PHP stacks take it),
// and logging each request line.
class echo_app {
  public:
    explicit echo_app(std::uint16_t port)
        : log_(dir_.file("requests.log")),
          process_({python_bin(), tests_dir() + "/echo_app.py", std::to_string(port), log_}, {}) {
        std::ofstream(log_).flush();
    }
    const std::string& log() const noexcept { return log_; }

  private:
    temp_dir dir_;
    std::string log_;
    background_process process_;
};

// The (name, value) pairs of the echoed header lines whose name an application may take for the
// user's: Remote-User or X-Auth-Request-User in any case, with '-' or '_'.
std::vector<std::pair<std::string, std::string>> user_headers(const std::string& echoed) {
    std::vector<std::pair<std::string, std::string>> out;
    std::istringstream lines(echoed);
    for (std::string line; std::getline(lines, line);) {
        const auto colon = line.find(": ");
        if (colon == std::string::npos) {
            continue;
        }
        auto name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) {
            return c == '_' ? '-' : static_cast<char>(std::tolower(c));
        });
        if (name == "remote-user" || name == "x-auth-request-user") {
            out.emplace_back(name, line.substr(colon + 2));
        }
    }
    return out;
}

// A request as a browser sends it to a real application, through a proxy configured by one of
// docs/'s samples: a valid token with a 6 KB cookie and a 6 KB URI (each past one of authd's
// head limits: a proxy that sent them on would fail the check with 431), and user headers of
// the client's own under every spelling. The application gets the request, with the cookie,
// and authd's user alone; without the token the proxy answers 401 and the application is never
// called.
void expect_big_requests_pass_and_only_authds_user(std::uint16_t listen, const echo_app& app,
                                                   const std::string& token) {
    const std::string target = "/page/" + std::string(3000, 'p') + "?q=" + std::string(3000, 'q');
    const std::string cookie = "Cookie: session=" + std::string(6000, 'c');
    std::vector<std::string> headers = {"Remote-User: mallory", "remote_user: mallory",
                                        "X-Auth-Request-User: mallory",
                                        "X_Auth_Request_User: mallory", cookie};
    http_client refused_client(listen);
    const auto refused = refused_client.roundtrip(make_request("GET", target, headers));
    EXPECT_EQ(refused.result_int(), 401) << refused.body();
    headers.push_back("Token: " + token);
    http_client c(listen);
    const auto ok = c.roundtrip(make_request("GET", target, headers));
    ASSERT_EQ(ok.result_int(), 200) << ok.body();
    const std::vector<std::pair<std::string, std::string>> authds = {
        {"remote-user", "alice"}, {"x-auth-request-user", "alice"}};
    EXPECT_EQ(user_headers(ok.body()), authds);
    EXPECT_NE(ok.body().find(cookie + "\n"), std::string::npos) << "the cookie reaches the app";
    EXPECT_EQ(settled_lines(app.log(), 1), 1U) << "the application was called for the 401";
    EXPECT_EQ(read_file(app.log()), "GET " + target + "\n");
}

TEST_F(ForwardAuth, NginxSampleCarriesBigRequestsAndOnlyAuthdsUser) {
    if (!have_nginx()) {
        GTEST_SKIP() << "nginx is not installed (scripts/install-deps.sh installs nginx-light)";
    }
    start();
    const auto app_port = free_port();
    const auto listen = free_port();
    const echo_app app(app_port);
    nginx_process nginx(forward_auth_site(port(), app_port, listen), listen);
    ASSERT_TRUE(nginx.wait_ready()) << nginx.error_log();
    ASSERT_TRUE(accepts_connections(app_port)) << "tests/echo_app.py did not start";
    expect_big_requests_pass_and_only_authds_user(listen, app,
                                                  token_of_login("alice", "alice-password"));
}

TEST_F(ForwardAuth, CaddySampleCarriesBigRequestsAndOnlyAuthdsUser) {
    if (!have_caddy()) {
        GTEST_SKIP() << "caddy is not installed (scripts/install-deps.sh installs it)";
    }
    start();
    const auto app_port = free_port();
    const auto listen = free_port();
    const echo_app app(app_port);
    const caddy_process caddy(port(), app_port, listen);
    ASSERT_TRUE(accepts_connections(listen)) << "caddy did not start";
    ASSERT_TRUE(accepts_connections(app_port)) << "tests/echo_app.py did not start";
    expect_big_requests_pass_and_only_authds_user(listen, app,
                                                  token_of_login("alice", "alice-password"));
}

}  // namespace
}  // namespace authd_it
