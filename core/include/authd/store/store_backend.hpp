// A store backend, opened by URI: the stores it keeps, one interface by job (one backend
// implements several), and what belongs to the backend as a whole (its change notifications, a
// warning about how it is kept).
//   sqlite:PATH             an embedded SQLite database file (the counters in PATH.limits)
//   postgresql://...        a PostgreSQL database, by libpq connection URI (also postgres://);
//                           changes made elsewhere are pushed to the change listener
// The backends are libraries of their own (authd_store_sqlite, authd_store_pg), which depend on
// these interfaces, never the reverse.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "authd/store/limit_store.hpp"
#include "authd/store/revocation_store.hpp"
#include "authd/store/store_errors.hpp"
#include "authd/store/token_cutoff_store.hpp"
#include "authd/store/user_store.hpp"

namespace authd {

class store_backend {
  public:
    virtual ~store_backend() = default;

    virtual user_store& users() = 0;
    virtual revocation_store& revocations() = 0;
    virtual token_cutoff_store& cutoffs() = 0;

    // Where this backend keeps the brute-force counters (PostgreSQL: tables every node shares;
    // SQLite: a file beside the store), opened on the first call (authctl never needs it); throws
    // store_error when it cannot be opened. nullptr: the counters stay in memory. The backend owns
    // it.
    virtual limit_store* limits() { return nullptr; }

    // Registers the listener told of changes made elsewhere, for backends that push them
    // (PostgreSQL's LISTEN/NOTIFY; SQLite when its file is replaced); nullptr unregisters. The
    // default does nothing: such stores are polled (user_store::poll_external_changes). The
    // listener must outlive the backend or be unregistered first.
    virtual void set_change_listener(change_listener* listener) { (void)listener; }

    // A warning about how the store is kept (an SQLite file that group or others may read: it
    // holds every password hash), or "" when there is none. authd and authctl show it at start.
    virtual std::string access_warning() const { return {}; }
};

// Opens (and creates, and migrates to the current schema) the backend named by uri. Throws
// store_error with a message naming the store on any failure, and std::invalid_argument for an
// unknown scheme.
std::unique_ptr<store_backend> open_store(std::string_view uri);

// Why open_store() would refuse uri's scheme ("unknown store scheme 'mysql' (expected ...)"), or
// "" when it has a backend: for checking a setting before anything is opened.
std::string store_scheme_problem(std::string_view uri);

}  // namespace authd
