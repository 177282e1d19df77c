// The users of a store: their names and password hashes, and each user's token cutoff as a login
// reads it. One interface by job (store_backend.hpp gives a backend's stores): users here,
// revocations (revocation_store.hpp), token cutoffs (token_cutoff_store.hpp) and the brute-force
// counters (limit_store.hpp).
//
// Implementations are safe to call from several threads at once. Failures of the store itself
// (I/O error, corrupt file, lost connection) are thrown as store_error; "no such user" is not an
// error.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authd/store/store_errors.hpp"

namespace authd {

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

    // Calls fn for each user name, in name order.
    virtual void for_each_name(const std::function<void(std::string_view)>& fn) = 0;

    // True when the stored users may have been changed by someone else (another process) since the
    // last call; the caller then drops what it cached. Cheap: called once per login, and
    // periodically. A store that pushes changes to a change_listener instead returns false. The
    // SQLite store also looks here (as in each call) whether its file is still the one at its
    // path, and reopens or refuses (throws) when it is not.
    virtual bool poll_external_changes() = 0;

    // False while the store knows that its calls fail until an operator acts (its file was
    // deleted, or replaced by one that is not a store). Never blocks: /readyz asks it.
    virtual bool usable() const noexcept { return true; }
};

// The longest user name authd accepts, in bytes; names must also be valid UTF-8 without control
// characters, C1 controls included, nor invisible or reordering ones (no-break and other spaces
// than U+0020, zero-width and bidirectional controls, the byte order mark): see valid_user_name.
inline constexpr std::size_t max_user_name_bytes = 256;
bool valid_user_name(std::string_view name) noexcept;
// The rule before hidden characters were refused: a name an account of an older store may have,
// which authctl can still give a new password or remove.
bool valid_stored_user_name(std::string_view name) noexcept;
// name as authctl prints it: a valid name as it is; in any other (an older store's), each
// control, invisible or reordering character as \u{XXXX} and each byte that is not UTF-8 as
// \x{XX}, so that nothing in it drives the operator's terminal or hides.
std::string printable_user_name(std::string_view name);

// A valid name that begins or ends with a space. HTTP strips the spaces around a header's value
// (RFC 9110 section 5.5), so no User-Name header can carry it and its account could never log
// in: authctl refuses such a name for a new account (an old one can still be changed, removed).
bool user_name_has_outer_space(std::string_view name) noexcept;

}  // namespace authd
