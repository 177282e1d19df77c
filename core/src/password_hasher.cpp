#include "authd/password_hasher.hpp"

#include <cctype>
#include <charconv>
#include <new>
#include <stdexcept>
#include <utility>

#include <sodium.h>

#include "authd/foreign_hash.hpp"
#include "authd/secret.hpp"

namespace authd {

namespace {

void init_sodium() {
    if (sodium_init() < 0) {
        throw std::runtime_error("libsodium could not be initialised");
    }
}

}  // namespace

password_hasher::password_hasher(argon2_params params) : params_(params) {
    init_sodium();
    if (params_.ops < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
        params_.ops > crypto_pwhash_argon2id_OPSLIMIT_MAX) {
        throw std::invalid_argument("argon2id iterations out of range");
    }
    if (params_.memory_bytes < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
        params_.memory_bytes > crypto_pwhash_argon2id_MEMLIMIT_MAX) {
        throw std::invalid_argument("argon2id memory out of range (at least 8KiB)");
    }
    // The dummy hash is of a random password: nobody can log in with it, and verifying against
    // it costs what verifying against a real hash of the same parameters costs.
    unsigned char random[32];
    randombytes_buf(random, sizeof random);
    dummy_phc_ = hash(std::string_view(reinterpret_cast<const char*>(random), sizeof random));
    sodium_memzero(random, sizeof random);
}

namespace {

thread_local argon2_runner* thread_runner = nullptr;

}  // namespace

void set_thread_argon2_runner(argon2_runner* runner) noexcept {
    thread_runner = runner;
}

bool argon2_verify_here(const std::string& phc, std::string_view password) {
    if (phc.rfind("$argon2id$", 0) != 0) {
        return verify_any_hash(phc, password);  // imported from another system (foreign_hash.hpp)
    }
    return crypto_pwhash_str_verify(phc.c_str(), password.data(), password.size()) == 0;
}

std::optional<std::string> argon2_hash_here(std::string_view password,
                                            const argon2_params& params) {
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(out, password.data(), password.size(), params.ops,
                              params.memory_bytes, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        return std::nullopt;  // libsodium fails here only when it cannot allocate m bytes
    }
    return std::string(out);
}

std::string password_hasher::hash(std::string_view password) const {
    auto phc = thread_runner != nullptr ? thread_runner->hash(password, params_)
                                        : argon2_hash_here(password, params_);
    if (!phc) {
        throw std::bad_alloc();
    }
    return std::move(*phc);
}

bool password_hasher::verify(const std::string& phc, std::string_view password) const {
    return thread_runner != nullptr ? thread_runner->verify(phc, password)
                                    : argon2_verify_here(phc, password);
}

void password_hasher::verify_dummy(std::string_view password) const {
    dummy_count_.fetch_add(1, std::memory_order_relaxed);
    // The outcome is known (a random password nobody has); only the work matters.
    [[maybe_unused]] const bool outcome = verify(dummy_phc_, password);
}

bool password_hasher::needs_rehash(const std::string& phc) const {
    // 0: same parameters; 1: other parameters; -1: not an argon2id string at all. libsodium says
    // 0 for p > 1 or another salt or hash length too: such an imported hash is replaced as well.
    return !is_native_argon2id(phc) ||
           crypto_pwhash_str_needs_rehash(phc.c_str(), params_.ops, params_.memory_bytes) != 0;
}

std::size_t parse_size(std::string_view text) {
    std::size_t value = 0;
    const auto* begin = text.data();
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(begin, end, value);
    if (ec != std::errc() || ptr == begin) {
        throw std::invalid_argument("not a size: '" + std::string(text) + "'");
    }
    const std::string_view unit(ptr, static_cast<std::size_t>(end - ptr));
    std::size_t scale = 1;
    if (unit.empty() || unit == "B") {
        scale = 1;
    } else if (unit == "KiB" || unit == "K") {
        scale = 1024;
    } else if (unit == "MiB" || unit == "M") {
        scale = 1024 * 1024;
    } else if (unit == "GiB" || unit == "G") {
        scale = 1024 * 1024 * 1024;
    } else {
        throw std::invalid_argument("not a size: '" + std::string(text) +
                                    "' (use B, KiB, MiB or GiB)");
    }
    if (value > SIZE_MAX / scale) {
        throw std::invalid_argument("size too large: '" + std::string(text) + "'");
    }
    return value * scale;
}

}  // namespace authd
