// Editing key files (authctl key ...): every change is written atomically under a lock on the
// file's directory, so that authd reading the file meanwhile sees the old or the new file whole
// and two authctl runs never lose each other's key.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "authd/crypto/key_file.hpp"

namespace authd {

// A new key: random secret (32 bytes for HS256, a random Ed25519 seed for EdDSA) and a random kid
// (8 random bytes, base64url) that none of taken uses.
key_entry make_key(key_algorithm alg, const std::vector<key_entry>& taken);

// Adds a new key to the key file at path, which becomes the signing key at authd's next (re)load.
// A raw key file becomes a key ring: its key keeps verifying under a new random kid (its tokens
// carry no kid and still verify). Returns the new key's kid. Throws std::runtime_error when the
// file cannot be read or written, or holds max_ring_keys keys already.
std::string rotate_key_file(const std::string& path, key_algorithm alg);

// Removes the key kid from the key ring at path; its tokens stop verifying at authd's next
// (re)load. Refuses (std::runtime_error) an unknown kid and the newest key, which signs: rotate
// first.
void remove_key(const std::string& path, std::string_view kid);

// Creates a key file that does not exist yet (never overwrites one): a raw 32-byte key for HS256
// (as before key rings), a key ring of one key for EdDSA. Returns the kid (empty for a raw file).
std::string create_key_file(const std::string& path, key_algorithm alg);

}  // namespace authd
