// argon2id password hashing with libsodium (crypto_pwhash_str_*), in PHC string format.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace authd {

// argon2id cost parameters. The defaults are OWASP's minimum (19 MiB, t=2, p=1); libsodium
// always uses p=1.
struct argon2_params {
    std::uint64_t ops = 2;                                     // t, iterations
    std::size_t memory_bytes = std::size_t{19} * 1024 * 1024;  // m
};

// The costliest new hashes authd and authctl make (password_hasher refuses more): at most 100
// iterations, 4 GiB, and 8 GiB of work (memory x iterations: four times RFC 9106's first
// recommendation, 2 GiB x 1; OWASP's rows are all under 50 MiB x iterations), about 3 s of one
// core. Beyond them a hash, and the dummy hash made at start, holds a process for minutes to hours.
inline constexpr std::uint64_t max_argon2_ops = 100;
inline constexpr std::size_t max_argon2_memory_bytes = std::size_t{4} << 30;
inline constexpr std::uint64_t max_argon2_work_bytes = std::uint64_t{8} << 30;

// Why these parameters are refused ("iterations: at most 100", ...), or nullptr.
const char* argon2_params_problem(const argon2_params& params) noexcept;

// The longest password authd hashes or verifies, in bytes. Longer ones are refused before any
// hashing (they cannot match a stored hash, which authctl refuses to create).
inline constexpr std::size_t max_password_bytes = 1024;
inline bool password_too_long(std::string_view password) noexcept {
    return password.size() > max_password_bytes;
}

// Where password hashes are computed: passed to every call that hashes or verifies (argon2id, and
// the imported formats of foreign_hash.hpp: bcrypt, sha-crypt, PBKDF2, scrypt). authd's hash
// workers each hand them to a helper process of their own (server/workers/hash_helper.hpp), so
// that argon2's memory is mapped and unmapped in another address space than the I/O threads'
// (docs/architecture.md); hashes_in_this_thread() runs them in the caller's thread (authctl,
// tests, and a worker that cannot start a helper).
class hash_runner {
  public:
    virtual ~hash_runner() = default;
    // verify_password_here(phc, password). Throws hash_runner_error when it could not be run.
    virtual bool verify(const std::string& phc, std::string_view password) = 0;
    // crypto_pwhash_str_alg(argon2id, params); nullopt when argon2 could not get its memory.
    // Throws hash_runner_error when it could not be run.
    virtual std::optional<std::string> hash(std::string_view password,
                                            const argon2_params& params) = 0;
};

struct hash_runner_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A call that took longer than the runner's bound (a hung or stopped helper): abandoned, and the
// login answered 503 (retry), not 500.
struct hash_runner_timeout : hash_runner_error {
    using hash_runner_error::hash_runner_error;
};

// The calls themselves, in the calling thread (what a runner runs elsewhere): a PHC string of
// argon2id or of an imported format verified, an argon2id hash made.
bool verify_password_here(const std::string& phc, std::string_view password);
std::optional<std::string> hash_password_here(std::string_view password,
                                              const argon2_params& params);

// The runner that calls them in the calling thread (stateless; shared by every thread).
hash_runner& hashes_in_this_thread() noexcept;

class password_hasher {
  public:
    // Throws std::invalid_argument when params are outside libsodium's limits. Computes the dummy
    // hash (one argon2id hash at params) used for unknown users.
    explicit password_hasher(argon2_params params);

    const argon2_params& params() const noexcept { return params_; }

    // A new argon2id PHC string for password, computed by runner. Throws std::bad_alloc when
    // argon2 cannot get its memory, hash_runner_error when the runner could not run it.
    std::string hash(std::string_view password,
                     hash_runner& runner = hashes_in_this_thread()) const;

    // True when password matches the PHC string. False for a mismatch and for a malformed string.
    // Throws hash_runner_error when the runner could not run it.
    bool verify(const std::string& phc, std::string_view password,
                hash_runner& runner = hashes_in_this_thread()) const;

    // Verifies password against a dummy hash with this hasher's parameters, so that an unknown user
    // costs what a wrong password costs (docs/security.md). Always "fails".
    void verify_dummy(std::string_view password,
                      hash_runner& runner = hashes_in_this_thread()) const;

    // True when phc was made with other parameters or another algorithm than this hasher's.
    bool needs_rehash(const std::string& phc) const;

    // How many dummy verifications ran (tests prove unknown users are hashed).
    std::uint64_t dummy_verifications() const noexcept { return dummy_count_.load(); }

  private:
    argon2_params params_;
    std::string dummy_phc_;
    mutable std::atomic<std::uint64_t> dummy_count_{0};
};

}  // namespace authd
