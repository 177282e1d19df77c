#include "authd/crypto/password_hasher.hpp"

#include <cctype>
#include <charconv>
#include <new>
#include <stdexcept>
#include <utility>

#include <sodium.h>

#include "authd/crypto/foreign_hash.hpp"
#include "authd/crypto/secret.hpp"
#include "authd/crypto/sodium.hpp"

namespace authd {

const char* argon2_params_problem(const argon2_params& params) noexcept {
    if (params.ops < crypto_pwhash_argon2id_OPSLIMIT_MIN) {
        return "iterations: at least 1";
    }
    if (params.ops > max_argon2_ops) {
        return "iterations: at most 100";
    }
    if (params.memory_bytes < crypto_pwhash_argon2id_MEMLIMIT_MIN) {
        return "memory: at least 8KiB";
    }
    if (params.memory_bytes > max_argon2_memory_bytes) {
        return "memory: at most 4GiB";
    }
    if (static_cast<std::uint64_t>(params.memory_bytes) * params.ops > max_argon2_work_bytes) {
        return "memory x iterations: at most 8GiB of work per hash (e.g. 19MiB x 2, 2GiB x 1)";
    }
    return nullptr;
}

password_hasher::password_hasher(argon2_params params) : params_(params) {
    init_sodium();
    if (const char* problem = argon2_params_problem(params_)) {
        throw std::invalid_argument(std::string("argon2id ") + problem);
    }
    // The dummy hash is of a random password: nobody can log in with it, and verifying against
    // it costs what verifying against a real hash of the same parameters costs.
    unsigned char random[32];
    randombytes_buf(random, sizeof random);
    dummy_phc_ = hash(std::string_view(reinterpret_cast<const char*>(random), sizeof random));
    sodium_memzero(random, sizeof random);
}

bool verify_password_here(const std::string& phc, std::string_view password) {
    if (phc.rfind("$argon2id$", 0) != 0) {
        return verify_any_hash(phc, password);  // imported from another system (foreign_hash.hpp)
    }
    return crypto_pwhash_str_verify(phc.c_str(), password.data(), password.size()) == 0;
}

std::optional<std::string> hash_password_here(std::string_view password,
                                              const argon2_params& params) {
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(out, password.data(), password.size(), params.ops,
                              params.memory_bytes, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        return std::nullopt;  // libsodium fails here only when it cannot allocate m bytes
    }
    return std::string(out);
}

namespace {

class local_runner final : public hash_runner {
  public:
    bool verify(const std::string& phc, std::string_view password) override {
        return verify_password_here(phc, password);
    }
    std::optional<std::string> hash(std::string_view password,
                                    const argon2_params& params) override {
        return hash_password_here(password, params);
    }
};

}  // namespace

hash_runner& hashes_in_this_thread() noexcept {
    static local_runner runner;
    return runner;
}

std::string password_hasher::hash(std::string_view password, hash_runner& runner) const {
    auto phc = runner.hash(password, params_);
    if (!phc) {
        throw std::bad_alloc();
    }
    return std::move(*phc);
}

bool password_hasher::verify(const std::string& phc, std::string_view password,
                             hash_runner& runner) const {
    return runner.verify(phc, password);
}

void password_hasher::verify_dummy(std::string_view password, hash_runner& runner) const {
    dummy_count_.fetch_add(1, std::memory_order_relaxed);
    // The outcome is known (a random password nobody has); only the work matters.
    [[maybe_unused]] const bool outcome = verify(dummy_phc_, password, runner);
}

bool password_hasher::needs_rehash(const std::string& phc) const {
    // 0: same parameters; 1: other parameters; -1: not an argon2id string at all. libsodium says
    // 0 for p > 1 or another salt or hash length too: such an imported hash is replaced as well.
    return !is_native_argon2id(phc) ||
           crypto_pwhash_str_needs_rehash(phc.c_str(), params_.ops, params_.memory_bytes) != 0;
}

}  // namespace authd
