// argon2 in a helper process: each hash worker thread has one (authd re-executed with
// --hash-helper), and hands it its verifications and hashes over a Unix socket pair.
//
// Why: libsodium maps argon2's memory (19 MiB at OWASP parameters, MAP_POPULATE) and unmaps it on
// every call. Done by threads of authd's own process, that takes the address-space lock and sends
// TLB shoot-downs to every core running authd, I/O threads included: while logins saturated the
// hash workers, a cheap request's p99 was about 4 ms; with argon2 in other processes it is a tenth
// of that, and two workers hash about 10% more (docs/benchmarks.md).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

#include "authd/crypto/password_hasher.hpp"

namespace authd::server {

class hash_helper final : public hash_runner {
  public:
    // call_timeout: how long one call may take (--hash-call-timeout); a helper that takes longer
    // is killed, and the call throws hash_runner_timeout.
    explicit hash_helper(std::chrono::milliseconds call_timeout = std::chrono::seconds(10))
        : call_timeout_(call_timeout) {}
    ~hash_helper() override;
    hash_helper(const hash_helper&) = delete;
    hash_helper& operator=(const hash_helper&) = delete;

    // Starts the helper process; false (and nothing started) when it cannot be.
    bool start();

    bool verify(const std::string& phc, std::string_view password) override;
    std::optional<std::string> hash(std::string_view password,
                                    const argon2_params& params) override;

  private:
    // Sends request and reads the reply (a status byte, then the PHC string of a hash). Restarts
    // a helper that has gone, once. False when no helper can be started (the caller runs argon2
    // itself); throws hash_runner_error when a started helper fails twice, hash_runner_timeout
    // (the helper killed) when it does not answer within call_timeout_.
    bool exchange(const std::string& request, std::string& reply);
    void stop() noexcept;

    std::chrono::milliseconds call_timeout_;
    int fd_ = -1;
    pid_t pid_ = -1;
    bool said_unavailable_ = false;  // logged once until a helper starts again
};

// The helper's side (authd --hash-helper): serves requests on fd until it is closed; the exit
// status of the process.
int run_hash_helper(int fd);

// The argument that makes authd a hash helper, and the descriptor its socket is on.
inline constexpr std::string_view hash_helper_argument = "--hash-helper";
inline constexpr int hash_helper_fd = 3;

}  // namespace authd::server
