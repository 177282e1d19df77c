// The key file: its format, read and checked, and written (for authctl's editing).
//
// The key file is either
//   - a raw key: at least 32 bytes, the whole file is one HS256 secret (what `authctl key
//     generate` writes, and what authd always read), or
//   - a key ring: text, first line "authd-keyring 1", then one line per key, oldest first:
//         <kid> <alg> <secret, base64url without padding>
//     kid: 1 to 64 characters of [A-Za-z0-9_-]; alg: HS256 (a secret of 32 to 4096 bytes) or
//     EdDSA (the 32-byte Ed25519 seed). The last line is the newest key, the one that signs.
// Either way the file must be a regular file (not a symbolic link) that neither group nor others
// may access (mode 0600).
//
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <vector>

#include "authd/crypto/secret.hpp"

namespace authd {

enum class key_algorithm : std::uint8_t { hs256, eddsa };

// "HS256" or "EdDSA" (the JOSE names).
std::string_view algorithm_name(key_algorithm alg) noexcept;
// The algorithm of a JOSE name (exact, case-sensitive), or nullopt.
std::optional<key_algorithm> parse_algorithm(std::string_view name) noexcept;

// The most keys a key ring may hold. A token without kid is checked against every HS256 key (it
// may come from a time the ring held one key), so the ring's size bounds the work a forged token
// can cause.
inline constexpr std::size_t max_ring_keys = 16;

// One key with its secret (an HS256 secret, or an Ed25519 seed). Wiped when destroyed.
struct key_entry {
    std::string kid;  // empty only for the key of a raw key file
    key_algorithm alg = key_algorithm::hs256;
    secret_bytes secret;
};

// A key file's keys, oldest first, checked as keyring::load checks them.
struct key_file {
    bool raw = false;  // a raw key file: one HS256 key without kid
    std::vector<key_entry> keys;
};

// Reads and checks a key file (its mode too; its status into st when given). Throws
// std::runtime_error naming the path and, for a key ring, the line and the reason (never a
// secret).
key_file read_key_file(const std::string& path, struct stat* st = nullptr);

// A key ring's text (first line and one line per key), in storage reserved up front (a
// reallocation would leave a copy of the secrets behind): the caller wipes it.
void format_key_ring(const std::vector<key_entry>& keys, std::string& text);

// Throws std::runtime_error("key file <path>: <why>").
[[noreturn]] void key_file_error(const std::string& path, const std::string& why);

// A key id: 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'.
bool valid_kid(std::string_view kid) noexcept;

}  // namespace authd
