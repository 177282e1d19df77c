// Forward auth (docs/forward-auth.md) puts the token's user into a header line: a token for a name
// authd never issues (a CR LF in it, or a space at either end, made by whoever holds the HS256
// key) is refused, never turned into header lines of its own or into another user's name.
#include <string>

#include "harness.hpp"

namespace authd_it {
namespace {

class ForwardAuthNames : public authd_test {};

TEST_F(ForwardAuthNames, ATokenForANameWithCrLfIsRefusedWithoutInjectedHeaders) {
    start();
    const auto exp = std::to_string(unix_now() + 600);
    // Also names no header should carry though they hold no CR or LF: a C1 control (NEL, which
    // some parsers take for a line end; CSI, which drives a terminal), a right-to-left override,
    // a zero-width space.
    for (const std::string name :
         {R"(alice\r\nX-Injected: 1)", R"(alice\nX-Injected: 1)", R"(tab\there)", R"(ad\u0085min)",
          R"(a\u009b31m)", R"(\u202enimda)", R"(ad\u200bmin)"}) {
        // A token with the seed's header, signed by PyJWT with the server's own key.
        const auto made = run_command({python_bin(), tests_dir() + "/jwt_make.py"},
                                      R"({"user":")" + name + R"(","exp":)" + exp + "}",
                                      {{"JWT_KEY_FILE", env_.key_file()}}, 60s);
        ASSERT_EQ(made.exit_code, 0) << made.err;
        const auto token = made.out.substr(0, made.out.find('\n'));
        http_client c(port());
        // /verify says it verifies (a JSON body can carry any name) ...
        EXPECT_EQ(c.roundtrip(make_request("GET", "/verify", {"Token: " + token})).result_int(),
                  200)
            << name;
        // ... but forward auth refuses it, and no header line comes out of the name.
        const auto r = c.roundtrip(make_request("GET", "/forward-auth", {"Token: " + token}));
        EXPECT_EQ(status_line(r), "HTTP/1.1 401 Unauthorized") << name;
        EXPECT_EQ(header_count(r, "Remote-User"), 0U) << name;
        EXPECT_EQ(header_count(r, "X-Injected"), 0U) << name;
    }
}

// HTTP strips the spaces around a header's value (RFC 9110 section 5.5): " admin" in Remote-User
// reaches the application as "admin", whose cutoff (a password change, a removal) compares the
// exact name and so does not void it. authd never issues such a name (User-Name is stripped the
// same way; authctl refuses it), so forward auth refuses it; the plain name still passes.
TEST_F(ForwardAuthNames, ATokenForANameWithAnOuterSpaceIsRefused) {
    start();
    const auto exp = std::to_string(unix_now() + 600);
    const auto forward_auth = [&](const std::string& name) {
        const auto made = run_command({python_bin(), tests_dir() + "/jwt_make.py"},
                                      R"({"user":")" + name + R"(","exp":)" + exp + "}",
                                      {{"JWT_KEY_FILE", env_.key_file()}}, 60s);
        EXPECT_EQ(made.exit_code, 0) << made.err;
        http_client c(port());
        return c.roundtrip(make_request("GET", "/forward-auth",
                                        {"Token: " + made.out.substr(0, made.out.find('\n'))}));
    };
    for (const std::string name : {" admin", "admin ", "  admin  "}) {
        const auto r = forward_auth(name);
        EXPECT_EQ(status_line(r), "HTTP/1.1 401 Unauthorized") << '"' << name << '"';
        EXPECT_EQ(header_count(r, "Remote-User"), 0U) << '"' << name << '"';
    }
    for (const std::string name : {"admin", "ad min"}) {
        const auto r = forward_auth(name);
        EXPECT_EQ(r.result_int(), 200) << name;
        EXPECT_EQ(r["Remote-User"], name);
    }
}

}  // namespace
}  // namespace authd_it
