// Where user records live. One interface, one backend per URI scheme (sqlite:, postgresql://).
//
// Every call may block (disk, network): authd calls the store only from hash workers, never from
// an I/O thread. Implementations are safe to call from several threads at once. Failures of the
// store itself (I/O error, corrupt file, lost connection) are thrown as store_error; "no such user"
// is not an error.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

struct user_record {
    std::string name;
    std::string phc;  // the argon2id hash, PHC string format
};

// What a login reads of a user, in one query: the hash and the user's token cutoff.
struct login_record {
    std::string phc;
    // Tokens of this user issued (iat) before this time (unix seconds) are void: the second after
    // the user's last password change or removal. 0 when there was none.
    std::int64_t tokens_not_before = 0;
};

// Token cutoffs older than this are of no use to anyone: no token lives longer (--token-ttl is at
// most 366 days), so those it voids have expired.
inline constexpr std::int64_t max_token_ttl_seconds = 366LL * 86400;

class user_store {
  public:
    virtual ~user_store() = default;

    // The stored hash of name, or nullopt when there is no such user.
    virtual std::optional<std::string> find_hash(std::string_view name) = 0;

    // Adds a user. False when the name exists already (nothing is changed).
    virtual bool add_user(std::string_view name, std::string_view phc) = 0;

    // Adds many users in one transaction; names that exist already are skipped. Returns how many
    // were added.
    virtual std::size_t add_users(const std::vector<user_record>& users) = 0;

    // The hash of name and its token cutoff, or nullopt when there is no such user. The default
    // (stores without cutoffs) is find_hash() and no cutoff.
    virtual std::optional<login_record> find_login(std::string_view name);

    // Replaces a user's hash (a password change), and voids the user's tokens issued until now:
    // in the same transaction the user's token cutoff becomes the time of the change in whole
    // seconds + 1 (never lowered). False when there is no such user (nothing is changed).
    virtual bool set_hash(std::string_view name, std::string_view phc) = 0;

    // Replaces a user's hash only if it is still expected_phc (a rehash after login must not undo
    // a password change made meanwhile). False when it was not replaced. Voids no token.
    virtual bool replace_hash(std::string_view name, std::string_view expected_phc,
                              std::string_view new_phc) = 0;

    // Removes a user, and voids the user's tokens as set_hash() does. The cutoff stays: a user
    // added again under the name gets none of the old one's tokens back. False when there was no
    // such user.
    virtual bool remove_user(std::string_view name) = 0;

    // Every token cutoff whose not_before is after since, as (name, not_before).
    virtual std::vector<std::pair<std::string, std::int64_t>> token_cutoffs(std::int64_t since);

    // Calls fn for each user name, in name order.
    virtual void for_each_name(const std::function<void(std::string_view)>& fn) = 0;

    // True when the stored users may have been changed by someone else (another process) since the
    // last call; the caller then drops what it cached. Cheap: called once per login, and
    // periodically. A store that pushes changes to a change_listener instead returns false. The
    // SQLite store also looks here (as in each call) whether its file is still the one at its
    // path, and reopens or refuses (throws) when it is not.
    virtual bool poll_external_changes() = 0;

    // Revoked tokens (/logout): a token id (jti) stays revoked until exp (unix seconds), when the
    // token would have expired anyway. Revoking twice is not an error.
    virtual void revoke_token(std::string_view jti, std::int64_t exp);
    // Every revocation whose exp is after now, as (jti, exp).
    virtual std::vector<std::pair<std::string, std::int64_t>> revoked_tokens(std::int64_t now);
    // Forgets revocations whose exp is now or earlier.
    virtual void purge_revoked_tokens(std::int64_t now);

    // Registers the listener told of changes made elsewhere, for stores that push them
    // (PostgreSQL's LISTEN/NOTIFY; SQLite when its file is replaced); nullptr unregisters. The
    // default does nothing: such stores are polled. The listener must outlive the store or be
    // unregistered first.
    virtual void set_change_listener(change_listener* listener) { (void)listener; }

    // False while the store knows that its calls fail until an operator acts (its file was
    // deleted, or replaced by one that is not a store). Never blocks: /readyz asks it.
    virtual bool usable() const noexcept { return true; }

    // Where this store keeps the brute-force counters, or nullptr when it keeps none (they stay
    // in memory). Opened on the first call (authctl never needs it); throws store_error when it
    // cannot be opened. The store owns it.
    virtual limit_store* limits() { return nullptr; }

    // A warning about how the store is kept (an SQLite file that group or others may read: it
    // holds every password hash), or "" when there is none. authd and authctl show it at start.
    virtual std::string access_warning() const { return {}; }
};

// The longest user name authd accepts, in bytes; names must also be valid UTF-8 without control
// characters (see valid_user_name).
inline constexpr std::size_t max_user_name_bytes = 256;
bool valid_user_name(std::string_view name) noexcept;

// A valid name that begins or ends with a space. HTTP strips the spaces around a header's value
// (RFC 9110 section 5.5), so no User-Name header can carry it and its account could never log
// in: authctl refuses such a name for a new account (an old one can still be changed, removed).
bool user_name_has_outer_space(std::string_view name) noexcept;

}  // namespace authd
