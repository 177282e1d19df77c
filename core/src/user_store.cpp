// open_store()'s scheme dispatch and the user name rules shared by every backend.
#include "authd/user_store.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>

#include "authd/api.hpp"

#include "pg_store.hpp"
#include "sqlite_store.hpp"

namespace authd {

void user_store::revoke_token(std::string_view, std::int64_t) {
    throw store_error("this store cannot keep revoked tokens");
}

std::vector<std::pair<std::string, std::int64_t>> user_store::revoked_tokens(std::int64_t) {
    return {};
}

void user_store::purge_revoked_tokens(std::int64_t) {}

std::optional<login_record> user_store::find_login(std::string_view name) {
    auto phc = find_hash(name);
    if (!phc) {
        return std::nullopt;
    }
    return login_record{std::move(*phc), 0};
}

std::vector<std::pair<std::string, std::int64_t>> user_store::token_cutoffs(std::int64_t) {
    return {};
}

namespace {

using store_opener = std::unique_ptr<user_store> (*)(const std::string& uri);

struct store_scheme {
    std::string_view prefix;  // everything up to the backend's own part of the URI
    store_opener open;
    bool whole_uri;  // the opener gets the whole URI, else the part after the prefix
};

// One row per backend.
constexpr std::array<store_scheme, 3> store_schemes{{
    {"sqlite:", &detail::open_sqlite_store, false},
    // libpq connection URIs, both spellings libpq accepts.
    {"postgresql://", &detail::open_pg_store, true},
    {"postgres://", &detail::open_pg_store, true},
}};

// The scheme of uri, for error messages: never the rest, which may one day hold a password
// (postgresql://user:password@host/...).
std::string scheme_of(std::string_view uri) {
    const auto colon = uri.find(':');
    return colon == std::string_view::npos ? std::string("(none)")
                                           : std::string(uri.substr(0, colon));
}

bool is_ascii_control(char c) noexcept {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f;
}

}  // namespace

std::unique_ptr<user_store> open_store(std::string_view uri) {
    for (const auto& scheme : store_schemes) {
        if (uri.starts_with(scheme.prefix)) {
            return scheme.open(
                std::string(scheme.whole_uri ? uri : uri.substr(scheme.prefix.size())));
        }
    }
    throw std::invalid_argument("unknown store scheme '" + scheme_of(uri) +
                                "' (expected sqlite:PATH or postgresql://...)");
}

bool valid_user_name(std::string_view name) noexcept {
    return !name.empty() && name.size() <= max_user_name_bytes && is_valid_utf8(name) &&
           std::none_of(name.begin(), name.end(), is_ascii_control);
}

}  // namespace authd
