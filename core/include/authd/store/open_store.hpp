// The way in to the store backends (libraries authd_store_sqlite and authd_store_pg, which
// depend on the store interface, never the reverse).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "authd/store/user_store.hpp"

namespace authd {

// Opens (and creates, and migrates to the current schema) the store named by uri:
//   sqlite:PATH             an embedded SQLite database file
//   postgresql://...        a PostgreSQL database, by libpq connection URI (also postgres://);
//                           changes made elsewhere are pushed to the change listener
// Throws store_error with a message naming the store on any failure, and std::invalid_argument for
// an unknown scheme.
std::unique_ptr<user_store> open_store(std::string_view uri);

// Why open_store() would refuse uri's scheme ("unknown store scheme 'mysql' (expected ...)"), or
// "" when it has a backend: for checking a setting before anything is opened.
std::string store_scheme_problem(std::string_view uri);

}  // namespace authd
