// Files written whole or not at all, and the small tools for it: a descriptor closed on every
// path out, a directory lock, errno in messages. Every message starts with `subject` (e.g.
// "key file /etc/authd/key"), then says what failed.
#pragma once

#include <string>
#include <string_view>
#include <sys/stat.h>

namespace authd {

// Closes a file descriptor on every path out of a function.
struct fd_guard {
    int fd = -1;
    fd_guard() = default;
    explicit fd_guard(int f) : fd(f) {}
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    ~fd_guard();
};

// "what: <strerror(errno)>".
std::string errno_text(const char* what);

// The directory of path ("." for a bare name).
std::string directory_of(const std::string& path);

enum class write_mode {
    replace,     // over the file at path, if any
    create_new,  // only if there is none: an existing file is never overwritten
};

// Writes data to path atomically: a 0600 temporary file in the same directory (with the owner of
// `owner_of` when given and not the caller's), synced, then renamed over path (replace) or linked
// to it (create_new), then the directory synced. A reader sees the old file or the new one whole.
// Throws std::runtime_error("<subject>: <what failed>").
void write_file_atomically(const std::string& path, std::string_view data, write_mode mode,
                           const struct stat* owner_of, std::string_view subject);

// Serialises changes to the files of path's directory (two writers would each read the old file
// and the last rename would lose the other's change). The lock is on the directory, since the
// file itself is replaced. Throws std::runtime_error("<subject>: <what failed>").
class directory_lock {
  public:
    directory_lock(const std::string& path, std::string_view subject);

  private:
    fd_guard dir_;
};

}  // namespace authd
