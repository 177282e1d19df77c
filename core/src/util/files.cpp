#include "authd/util/files.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/file.h>
#include <unistd.h>

namespace authd {

fd_guard::~fd_guard() {
    if (fd >= 0) {
        ::close(fd);
    }
}

std::string errno_text(const char* what) {
    return std::string(what) + ": " + std::strerror(errno);
}

std::string directory_of(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) {
        return ".";
    }
    return slash == 0 ? "/" : path.substr(0, slash);
}

namespace {

[[noreturn]] void fail(std::string_view subject, const std::string& why) {
    throw std::runtime_error(std::string(subject) + ": " + why);
}

void write_all(int fd, std::string_view data, std::string_view subject) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            fail(subject, errno_text("cannot be written"));
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

// A temporary file next to path, removed again unless it was put in place.
struct temp_file {
    std::string name;
    fd_guard file;
    bool placed = false;

    temp_file(const std::string& path, std::string_view subject) : name(path + ".tmp-XXXXXX") {
        // mkostemp creates the file with mode 0600 (less if the umask says so).
        file.fd = ::mkostemp(name.data(), O_CLOEXEC);
        if (file.fd < 0) {
            fail(subject, errno_text(("cannot create " + name).c_str()));
        }
    }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;
    ~temp_file() {
        if (!placed) {
            ::unlink(name.c_str());
        }
    }
};

// The new file gets the old one's owner: authctl run as root must not leave authd (running as
// its own user) a file it cannot read.
void copy_owner(const temp_file& temp, const struct stat* old, std::string_view subject) {
    if (old == nullptr || (old->st_uid == ::geteuid() && old->st_gid == ::getegid())) {
        return;
    }
    if (::fchown(temp.file.fd, old->st_uid, old->st_gid) != 0) {
        fail(subject, errno_text("cannot give the new file the owner of the old one"));
    }
}

void sync_directory(const std::string& path, std::string_view subject) {
    const fd_guard dir(::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.fd < 0 || ::fsync(dir.fd) != 0) {
        fail(subject, errno_text("its directory cannot be synced"));
    }
}

}  // namespace

void write_file_atomically(const std::string& path, std::string_view data, write_mode mode,
                           const struct stat* owner_of, std::string_view subject) {
    temp_file temp(path, subject);
    if (::fchmod(temp.file.fd, S_IRUSR | S_IWUSR) != 0) {
        fail(subject, errno_text("cannot set mode 0600"));
    }
    copy_owner(temp, owner_of, subject);
    write_all(temp.file.fd, data, subject);
    if (::fsync(temp.file.fd) != 0) {
        fail(subject, errno_text("cannot be synced"));
    }
    if (mode == write_mode::replace ? ::rename(temp.name.c_str(), path.c_str()) != 0
                                    : ::link(temp.name.c_str(), path.c_str()) != 0) {
        fail(subject, errno == EEXIST ? "exists already; it is never overwritten"
                                      : errno_text("cannot be replaced"));
    }
    temp.placed = mode == write_mode::replace;  // a link leaves the temporary name to remove
    sync_directory(path, subject);
}

directory_lock::directory_lock(const std::string& path, std::string_view subject)
    : dir_(::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    if (dir_.fd < 0) {
        fail(subject, errno_text("cannot open its directory"));
    }
    while (::flock(dir_.fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            fail(subject, errno_text("cannot lock its directory"));
        }
    }
}

}  // namespace authd
