// authctl user import --hashes / --keycloak and user list --legacy: users whose passwords exist
// only as another system's hashes (authd/foreign_hash.hpp). Streams its input: memory does not
// grow with the file; one store transaction per batch.
#pragma once

#include <cstddef>
#include <ostream>
#include <stdexcept>
#include <string>

#include "authd/crypto/foreign_hash.hpp"
#include "authd/store/user_store.hpp"

namespace authctl {

// Input that cannot be read at all (exit 1); a bad line or user is reported and skipped instead.
struct import_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct hash_import_options {
    authd::import_limits limits;
    std::size_t batch = 10'000;  // users per store transaction
    bool progress = false;       // "imported N" on standard error about once a second
    // Keycloak: import users who also have a second factor (any credential but the password) or
    // a required action pending, as password-only accounts. Off: each is reported and skipped.
    bool allow_password_only = false;
};

struct import_counts {
    std::size_t added = 0;
    std::size_t existed = 0;  // a user of that name was there already (or earlier in the file)
    std::size_t skipped = 0;  // reported on standard error, by line or user
    // Keycloak users without a password credential (service accounts, federated or social
    // logins): nothing to import, and no error.
    std::size_t without_password = 0;
    // Keycloak users marked "enabled": false: not imported (authd has no disabled account, and
    // importing one would make it a working login), and no error.
    std::size_t disabled = 0;
};

// Lines "NAME<TAB>HASH" from fd; blank lines are ignored. Throws import_error when fd cannot be
// read, store_error when the store fails (batches committed before stay).
import_counts import_hash_lines(authd::user_store& store, int fd, const hash_import_options& opts);

// A Keycloak realm export (or one of its users-N.json files) from fd: each user's password
// credential (pbkdf2-sha256, pbkdf2-sha512, pbkdf2, argon2), as a hash authd verifies.
import_counts import_keycloak(authd::user_store& store, int fd, const hash_import_options& opts);

// "NAME<TAB>FORMAT" for each user whose hash is not authd's own argon2id, in name order; the
// number of such users.
std::size_t list_legacy_users(authd::user_store& store, std::ostream& out);

}  // namespace authctl
