// A token is accepted only with a header authd issues (docs/api.md, "Tokens"): one naming another
// algorithm ("none", HS384), an unknown kid, or the same fields in another order is refused even
// with the right HMAC-SHA256 of the server's own key, by /verify and forward auth alike.
#include <string>

#include "harness.hpp"

namespace authd_it {
namespace {

class TokenHeaders : public authd_test {
  protected:
    // HEADER.PAYLOAD.HMAC-SHA256 with the key file's raw bytes, made by Python's standard library.
    std::string sign(const std::string& header_json, const std::string& payload_json) const {
        const auto r =
            run_command({python_bin(), "-c",
                         "import base64, hashlib, hmac, sys\n"
                         "b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b'=').decode()\n"
                         "key = open(sys.argv[1], 'rb').read()\n"
                         "head, body = sys.stdin.read().split('\\n', 1)\n"
                         "signing_input = b64(head.encode()) + '.' + b64(body.encode())\n"
                         "mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()\n"
                         "print(signing_input + '.' + b64(mac))\n",
                         env_.key_file()},
                        header_json + "\n" + payload_json);
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return r.out.substr(0, r.out.find('\n'));
    }

    int status(const std::string& target, const std::string& token) {
        http_client c(port());
        return c.roundtrip(make_request("GET", target, {"Token: " + token})).result_int();
    }
};

TEST_F(TokenHeaders, HeadersAuthdNeverIssuesAreRefusedEvenWithTheRightMac) {
    start();
    const auto payload = R"({"user":"alice","exp":)" + std::to_string(unix_now() + 600) + "}";
    // The control: the seed's header, signed the same way, verifies.
    const auto good = sign(R"({"typ":"JWT","alg":"HS256"})", payload);
    ASSERT_EQ(split_jwt(good).value().header, seed_jwt_header);
    ASSERT_EQ(status("/verify", good), 200);
    for (const std::string header : {
             R"({"typ":"JWT","alg":"none"})",
             R"({"typ":"JWT","alg":"HS384"})",
             R"({"typ":"JWT","alg":"HS256","kid":"no-such-key"})",
             R"({"alg":"HS256","typ":"JWT"})",
         }) {
        const auto token = sign(header, payload);
        EXPECT_EQ(status("/verify", token), 401) << header;
        EXPECT_EQ(status("/forward-auth", token), 401) << header;
    }
}

}  // namespace
}  // namespace authd_it
