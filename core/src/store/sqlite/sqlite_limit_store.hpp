// The SQLite store's brute-force counters, private to core/: a file of their own beside the
// store (PATH.limits), so that an attacker who can crash or restart authd gets no fresh budget,
// and so that counting writes nothing to the users' file (which the store watches for changes by
// others).
#pragma once

#include <memory>
#include <string>

#include "authd/store/limit_store.hpp"

namespace authd::detail {

// Opens (creating it, owner-only, when missing) the counters' file at path. Throws store_error.
std::unique_ptr<limit_store> open_sqlite_limit_store(const std::string& path);

}  // namespace authd::detail
