#include "authd/crypto/secret.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "authd/crypto/sodium.hpp"
#include "authd/util/files.hpp"

namespace authd {

secret_bytes& secret_bytes::operator=(secret_bytes&& other) noexcept {
    if (this != &other) {
        clear();
        bytes_ = std::move(other.bytes_);
    }
    return *this;
}

void secret_bytes::clear() noexcept {
    if (!bytes_.empty()) {
        sodium_memzero(bytes_.data(), bytes_.size());
    }
    bytes_.clear();
}

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& why) {
    throw std::runtime_error("key file " + path + ": " + why);
}

}  // namespace

std::string private_mode_problem(const std::string& path, mode_t mode) {
    if ((mode & (S_IRWXG | S_IRWXO)) == 0) {
        return {};
    }
    return "is accessible by group or others (run: chmod 600 " + path + ")";
}

secret_bytes read_private_file(const std::string& path, std::size_t max_bytes, struct stat* info) {
    // O_NONBLOCK: a FIFO at the path must not hold authd in open() (at start, or at a SIGHUP
    // reload, where SIGTERM could no longer stop it); it is refused below like any non-file. A
    // regular file's reads ignore the flag.
    const fd_guard file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)};
    if (file.fd < 0) {
        fail(path, errno == ENOENT  ? "does not exist"
                   : errno == ELOOP ? "is a symbolic link"
                                    : std::string("cannot be read: ") + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(file.fd, &st) != 0) {
        fail(path, std::string("cannot be read: ") + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        fail(path, "is not a regular file");
    }
    if (auto problem = private_mode_problem(path, st.st_mode); !problem.empty()) {
        fail(path, problem);
    }
    secret_bytes bytes;
    if (!read_secret_bytes(file.fd, max_bytes, bytes)) {
        fail(path, std::string("cannot be read: ") + std::strerror(errno));
    }
    if (bytes.size() > max_bytes) {
        fail(path, "is longer than " + std::to_string(max_bytes) + " bytes");
    }
    if (info != nullptr) {
        *info = st;
    }
    return bytes;
}

bool read_secret_bytes(int fd, std::size_t max_bytes, secret_bytes& out) {
    // The bytes may be secrets: read straight into storage that is wiped.
    secret_bytes buffer(max_bytes + 1);
    std::size_t got = 0;
    while (got < buffer.size()) {
        const ssize_t n = ::read(fd, buffer.data() + got, buffer.size() - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return false;
        }
        if (n == 0) {
            break;
        }
        got += static_cast<std::size_t>(n);
    }
    out = secret_bytes(buffer.data(), got);
    return true;
}

void generate_key_file(const std::string& path, std::size_t size) {
    init_sodium();
    const fd_guard file{
        ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)};
    if (file.fd < 0) {
        throw std::runtime_error("key file " + path +
                                 ": cannot be created: " + std::strerror(errno));
    }
    secret_bytes key(size);
    randombytes_buf(key.data(), key.size());
    std::size_t put = 0;
    while (put < key.size()) {
        const ssize_t n = ::write(file.fd, key.data() + put, key.size() - put);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw std::runtime_error("key file " + path +
                                     ": cannot be written: " + std::strerror(errno));
        }
        put += static_cast<std::size_t>(n);
    }
    if (::fsync(file.fd) != 0) {
        throw std::runtime_error("key file " + path +
                                 ": cannot be synced: " + std::strerror(errno));
    }
}

}  // namespace authd
