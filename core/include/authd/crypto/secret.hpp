// Bytes that must not outlive their use: wiped with sodium_memzero when destroyed or cleared.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <vector>

#include "authd/util/wipe.hpp"

namespace authd {

class secret_bytes {
  public:
    secret_bytes() = default;
    explicit secret_bytes(std::size_t size) : bytes_(size) {}
    secret_bytes(const unsigned char* data, std::size_t size) : bytes_(data, data + size) {}
    secret_bytes(const secret_bytes&) = delete;
    secret_bytes& operator=(const secret_bytes&) = delete;
    secret_bytes(secret_bytes&& other) noexcept = default;
    secret_bytes& operator=(secret_bytes&& other) noexcept;
    ~secret_bytes() { clear(); }

    void clear() noexcept;
    unsigned char* data() noexcept { return bytes_.data(); }
    const unsigned char* data() const noexcept { return bytes_.data(); }
    std::size_t size() const noexcept { return bytes_.size(); }
    bool empty() const noexcept { return bytes_.empty(); }

  private:
    std::vector<unsigned char> bytes_;
};

// The smallest signing key authd accepts, in bytes (RFC 7518 section 3.2: at least the hash size).
inline constexpr std::size_t min_key_bytes = 32;

// Why a file of this mode is not private to its owner, "is accessible by group or others (run:
// chmod 600 PATH)", or "" when group and others have no permission on it.
std::string private_mode_problem(const std::string& path, mode_t mode);

// Reads a file that holds secrets, into wiped storage. Throws std::runtime_error naming the path
// and the reason ("key file PATH: ...") when it is missing, a symbolic link, not a regular file,
// accessible by group or others, unreadable, or longer than max_bytes. info, when given, receives
// the file's status.
secret_bytes read_private_file(const std::string& path, std::size_t max_bytes,
                               struct stat* info = nullptr);

// Reads fd to its end into wiped storage (out), at most max_bytes + 1 bytes, so that the caller
// can tell a longer file. False, with errno set, when a read fails.
bool read_secret_bytes(int fd, std::size_t max_bytes, secret_bytes& out);

// Writes size random bytes (libsodium) to a new file at path with mode 0600. Throws when the file
// exists already or cannot be written.
void generate_key_file(const std::string& path, std::size_t size = min_key_bytes);

}  // namespace authd
