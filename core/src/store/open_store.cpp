// open_store()'s scheme dispatch: the one place that knows every backend.
#include <array>
#include <stdexcept>
#include <string>

#include "authd/store/store_backend.hpp"

#include "pg/pg_backend.hpp"
#include "sqlite/sqlite_backend.hpp"

namespace authd {

namespace {

using store_opener = std::unique_ptr<store_backend> (*)(const std::string& uri);

struct store_scheme {
    std::string_view prefix;  // everything up to the backend's own part of the URI
    store_opener open;
    bool whole_uri;  // the opener gets the whole URI, else the part after the prefix
};

// One row per backend.
constexpr std::array<store_scheme, 3> store_schemes{{
    {"sqlite:", &detail::open_sqlite_backend, false},
    // libpq connection URIs, both spellings libpq accepts.
    {"postgresql://", &detail::open_pg_backend, true},
    {"postgres://", &detail::open_pg_backend, true},
}};

// The scheme of uri, for error messages: never the rest, which may one day hold a password
// (postgresql://user:password@host/...).
std::string scheme_of(std::string_view uri) {
    const auto colon = uri.find(':');
    return colon == std::string_view::npos ? std::string("(none)")
                                           : std::string(uri.substr(0, colon));
}

}  // namespace

std::string store_scheme_problem(std::string_view uri) {
    for (const auto& scheme : store_schemes) {
        if (uri.starts_with(scheme.prefix)) {
            return {};
        }
    }
    return "unknown store scheme '" + scheme_of(uri) +
           "' (expected sqlite:PATH or postgresql://...)";
}

std::unique_ptr<store_backend> open_store(std::string_view uri) {
    for (const auto& scheme : store_schemes) {
        if (uri.starts_with(scheme.prefix)) {
            return scheme.open(
                std::string(scheme.whole_uri ? uri : uri.substr(scheme.prefix.size())));
        }
    }
    throw std::invalid_argument(store_scheme_problem(uri));
}

}  // namespace authd
