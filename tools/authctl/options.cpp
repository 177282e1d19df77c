// What authctl's options make: a hasher of the cost asked, the store named, checked names.
#include <charconv>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "authd/crypto/password_hasher.hpp"
#include "authd/store/store_backend.hpp"
#include "authd/store/user_name_profile.hpp"
#include "authd/util/units.hpp"

#include "authctl.hpp"

namespace authctl {

std::uint64_t parse_count(const std::string& text, std::string_view option) {
    std::uint64_t value = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc() || ptr != end || text.empty()) {
        throw usage_error("--" + std::string(option) + ": not a number: '" + text + "'");
    }
    return value;
}

// Validates the hash options up front, before anyone types a password.
authd::password_hasher make_hasher(const global_options& opts) {
    authd::argon2_params params;
    params.ops = parse_count(opts.hash_ops, "hash-ops");
    try {
        params.memory_bytes = authd::parse_size(opts.hash_memory);
    } catch (const std::invalid_argument& e) {
        throw usage_error(std::string("--hash-memory: ") + e.what());
    }
    if (const char* problem = authd::argon2_params_problem(params)) {
        throw usage_error(std::string("--hash-memory, --hash-ops: argon2id ") + problem);
    }
    try {
        return authd::password_hasher(params);
    } catch (const std::invalid_argument& e) {
        throw usage_error(e.what());
    }
}

std::unique_ptr<authd::store_backend> open_backend(const global_options& opts) {
    try {
        auto store = authd::open_store(opts.store_uri);
        if (const auto warning = store->access_warning(); !warning.empty()) {
            std::cerr << "authctl: warning: " << warning << '\n';
        }
        return store;
    } catch (const std::invalid_argument& e) {
        throw usage_error(std::string("--store: ") + e.what());
    }
}

// Checked before anything else; the name itself is not repeated (it may hold control characters).
// An existing account's: one an older store may hold.
void require_valid_name(const std::string& name) {
    if (!authd::valid_stored_user_name(name)) {
        throw usage_error(
            "invalid user name: it must be 1 to 256 bytes of UTF-8 without control characters");
    }
}

// A new account's name, also: no invisible, reordering or C1 control character, one that a
// User-Name header can carry, and one RFC 8265's profile allows; the form to store is the
// profile's.
std::string require_new_name(const std::string& name) {
    require_valid_name(name);
    if (!authd::valid_user_name(name)) {
        throw usage_error(
            "invalid user name: it holds a character that prints as nothing or as a space that "
            "is not one, reorders the text, or is a C1 control (U+0080 to U+009F): another name "
            "could pass for it");
    }
    if (authd::user_name_has_outer_space(name)) {
        throw usage_error(
            "invalid user name: a space at either end, which HTTP strips from User-Name: the "
            "account could never log in");
    }
    auto enforced = authd::enforce_user_name(name);
    if (!enforced) {
        throw usage_error("invalid user name: " + enforced.problem + " (RFC 8265's user names)");
    }
    return std::move(enforced.name);
}

}  // namespace authctl
