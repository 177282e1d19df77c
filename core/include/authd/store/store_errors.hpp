// What every store of a backend shares: how it fails, and how it tells of changes made
// elsewhere (store_backend.hpp). Every store call may block (disk, network): authd calls the stores
// only from hash workers and its main thread, never from an I/O thread.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "authd/store/limit_store.hpp"

namespace authd {

class store_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// The store cannot be reached right now (server down or restarting, no connection): the request
// may succeed if retried later (authd answers 503), unlike a store_error (500).
class store_unavailable : public store_error {
  public:
    using store_error::store_error;
};

// Told of changes made elsewhere (another authd node, authctl), so that cached records can be
// dropped. Called from a thread the store owns; implementations must be thread-safe.
class change_listener {
  public:
    virtual ~change_listener() = default;
    virtual void user_changed(std::string_view name) = 0;
    // Anything may have changed (notifications were missed): drop everything.
    virtual void all_changed() = 0;
    // A token was revoked elsewhere (another node's /logout).
    virtual void token_revoked(std::string_view jti, std::int64_t exp) {
        (void)jti;
        (void)exp;
    }
    // Something happened to the store itself that an operator must hear of (its file was deleted
    // or replaced under authd): an event name and what it means, for an error line in the log.
    virtual void store_event(std::string_view event, std::string_view detail) {
        (void)event;
        (void)detail;
    }
    // A user's token cutoff was set elsewhere (authctl user passwd or user remove): tokens of name
    // issued before not_before are void.
    virtual void tokens_cut(std::string_view name, std::int64_t not_before) {
        (void)name;
        (void)not_before;
    }
    // The account logged in (on another node) from address, age_seconds ago: the address is
    // known to the account (the owner's budget, docs/security.md).
    virtual void known_address(const account_digest& account, std::uint64_t address,
                               double age_seconds) {
        (void)account;
        (void)address;
        (void)age_seconds;
    }
};

}  // namespace authd
