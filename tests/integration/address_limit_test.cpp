// The per-address brute-force limit (docs/security.md) against the real authd: an attacker who
// owns one account cannot wipe its address's count of failed guesses on the others by logging in.
#include <string>

#include "harness.hpp"

namespace authd_it {
namespace {

TEST(AddressLimit, ASuccessOnTheAttackersOwnAccountDoesNotResetTheAddress) {
    test_env env;
    env.add_user("mallory", "own password");
    authd_process authd(authd_args{}
                            .with({"--account-free-failures", "0", "--address-free-failures", "3"})
                            .build(env));
    const auto port = authd.wait_listening().value();
    for (int i = 0; i < 3; ++i) {  // spraying: one guess each for three accounts
        EXPECT_EQ(body_of(login_from("127.0.0.2", port, "victim" + std::to_string(i), "guess")),
                  not_found_body)
            << i;
    }
    const auto own = login_from("127.0.0.2", port, "mallory", "own password");
    EXPECT_EQ(own.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << own;
    // The fourth failure is one past the free ones (the success did not forget the three) ...
    EXPECT_EQ(body_of(login_from("127.0.0.2", port, "victim3", "guess")), not_found_body);
    // ... so the address now waits.
    const auto refused = login_from("127.0.0.2", port, "victim4", "guess");
    EXPECT_EQ(refused.rfind("HTTP/1.1 429 Too Many Requests\r\n", 0), 0U) << refused;
    EXPECT_EQ(authd.terminate(), 0);
}

}  // namespace
}  // namespace authd_it
