// The PostgreSQL backend of user_store, private to core/ (open_store() is the public way in).
#pragma once

#include <memory>
#include <string>

#include "authd/store/store_backend.hpp"

namespace authd::detail {

// Opens the store at uri, a libpq connection URI (postgresql://... or postgres://...), creating
// and migrating its tables as needed. Throws store_error naming the server (its password masked)
// and the reason on any failure: store_unavailable when the server cannot be reached or refuses
// the connection (down, wrong credentials, unknown database).
std::unique_ptr<store_backend> open_pg_backend(const std::string& uri);

}  // namespace authd::detail
