// The SQLite backend of user_store, private to core/ (open_store() is the public way in).
#pragma once

#include <memory>
#include <string>

#include "authd/store/store_backend.hpp"

namespace authd::detail {

// Opens (creating and migrating as needed) the SQLite database file at path. Throws store_error
// naming path and the reason on any failure.
std::unique_ptr<store_backend> open_sqlite_backend(const std::string& path);

}  // namespace authd::detail
