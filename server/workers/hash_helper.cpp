#include "workers/hash_helper.hpp"

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <string>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "authd/crypto/secret.hpp"

#include "base/log.hpp"
#include "workers/argon2_memory.hpp"

namespace authd::server {

// The protocol, on a stream socket between two processes of the same binary (native byte order):
//   verify: 'v', u32 length + PHC string, u32 length + password  ->  '1' (match) or '0'
//   hash:   'h', u64 ops, u64 memory bytes, u32 length + password
//           ->  '1', u32 length + PHC string; or '0' (argon2 could not get its memory)
//   stats:  's'  ->  '1', u8 fast path on, u8 retired, u64 requests lent the kept memory,
//           u64 times it grew, u64 bytes kept, u64 minor page faults of the last 'v' or 'h',
//           u64 bytes of the kept memory that are not zero (tests and diagnostics; no secret;
//           's' wipes nothing: 0 once the last 'v' or 'h' is wiped, a millisecond or two after
//           its answer)
// The helper exits when the socket closes, or on anything else.

namespace {

constexpr std::uint32_t max_phc_bytes = 1024;

// Moves all size bytes with io (a send or a recv), again after EINTR; false when the socket
// failed or the other side closed it.
template <typename Bytes, typename Io>
bool transfer_all(Bytes* data, std::size_t size, Io io) {
    while (size > 0) {
        const auto n = io(data, size);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

bool write_all(int fd, const char* data, std::size_t size) {
    return transfer_all(
        data, size, [fd](const char* p, std::size_t n) { return ::send(fd, p, n, MSG_NOSIGNAL); });
}

bool read_exact(int fd, char* data, std::size_t size) {
    return transfer_all(data, size, [fd](char* p, std::size_t n) { return ::recv(fd, p, n, 0); });
}

template <typename T>
void put(std::string& out, T value) {
    out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

template <typename T>
bool get(int fd, T& value) {
    return read_exact(fd, reinterpret_cast<char*>(&value), sizeof value);
}

// A u32 length (at most max) and that many bytes.
bool get_string(int fd, std::string& out, std::uint32_t max) {
    std::uint32_t size = 0;
    if (!get(fd, size) || size > max) {
        return false;
    }
    out.resize(size);
    return read_exact(fd, out.data(), size);
}

// The password-bearing request, wiped however the call ends.
struct wiped_request {
    std::string bytes;
    ~wiped_request() { wipe(bytes); }
};

// A deferred wipe of argon2's kept memory (argon2_memory.hpp) left pending, done however the
// helper ends.
struct wipe_kept_memory_at_end {
    wipe_kept_memory_at_end() = default;
    wipe_kept_memory_at_end(const wipe_kept_memory_at_end&) = delete;
    wipe_kept_memory_at_end& operator=(const wipe_kept_memory_at_end&) = delete;
    ~wipe_kept_memory_at_end() { argon2_memory_wipe(); }
};

}  // namespace

hash_helper::~hash_helper() {
    stop();
}

bool hash_helper::start() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        return false;
    }
    // The bound of a call: a send or a receive on authd's end that waits longer fails with
    // EAGAIN (a reply is a few bytes, sent at once: its first byte is the whole wait).
    const auto ms = call_timeout_.count();
    const timeval bound{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>(ms % 1000 * 1000)};
    if (::setsockopt(fds[0], SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound) != 0 ||
        ::setsockopt(fds[0], SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof bound) != 0) {
        ::close(fds[0]);
        ::close(fds[1]);
        return false;
    }
    int child_end = fds[1];
    if (child_end == hash_helper_fd) {
        // dup2 onto itself would leave close-on-exec set.
        child_end = ::fcntl(fds[1], F_DUPFD_CLOEXEC, hash_helper_fd + 1);
        ::close(fds[1]);
        if (child_end < 0) {
            ::close(fds[0]);
            return false;
        }
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, child_end, hash_helper_fd);
    // Nothing else of authd's (client connections, listeners, the store) reaches the helper.
    posix_spawn_file_actions_addclosefrom_np(&actions, hash_helper_fd + 1);
    std::string arg0 = "authd";
    std::string arg1(hash_helper_argument);
    // The helper logs (its memory self-check) at this authd's level: --log-level warn keeps its
    // info lines out too.
    std::string arg2(level_name(log_level::error));
    for (const auto level : {log_level::debug, log_level::info, log_level::warn}) {
        if (log_enabled(level)) {
            arg2 = level_name(level);
            break;
        }
    }
    char* argv[] = {arg0.data(), arg1.data(), arg2.data(), nullptr};
    char* envp[] = {nullptr};  // the environment may hold secrets (AUTHD_*): none is needed
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    ::close(child_end);
    if (rc != 0) {
        ::close(fds[0]);
        return false;
    }
    fd_ = fds[0];
    pid_ = pid;
    return true;
}

void hash_helper::stop() noexcept {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
    if (pid_ > 0) {
        // It holds nothing worth waiting for: a verification in progress is abandoned.
        ::kill(pid_, SIGKILL);
        while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
    }
}

bool hash_helper::exchange(const std::string& request, std::string& reply) {
    // A helper that has gone (killed, crashed) is started again, once per call.
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (fd_ < 0 && !start()) {
            // Out of processes, say: the caller hashes in its own thread rather than fail.
            if (!said_unavailable_) {
                said_unavailable_ = true;
                log(log_level::warn, "hash_helper_unavailable",
                    {{"detail",
                      "cannot start a hash helper process: argon2 runs in authd's "
                      "threads until one starts"}});
            }
            return false;
        }
        said_unavailable_ = false;
        char status = 0;
        errno = 0;
        if (write_all(fd_, request.data(), request.size()) && read_exact(fd_, &status, 1)) {
            reply.assign(1, status);
            if (request[0] != 'h' || status != '1') {
                return true;
            }
            std::string phc;
            if (get_string(fd_, phc, max_phc_bytes)) {
                reply += phc;
                return true;
            }
        }
        const bool overran = errno == EAGAIN || errno == EWOULDBLOCK;
        stop();
        if (overran) {
            // Hung, stopped or starved: killed (stop()), and started afresh at the next call.
            log(log_level::warn, "hash_helper_overran",
                {{"detail",
                  "a hash helper did not answer within --hash-call-timeout: killed and "
                  "replaced, its login answered 503"}});
            throw hash_runner_timeout("the hash helper process did not answer in time");
        }
    }
    throw hash_runner_error("the hash helper process failed");
}

bool hash_helper::verify(const std::string& phc, std::string_view password) {
    if (phc.size() > max_phc_bytes || password.size() > max_password_bytes) {
        // Beyond what the helper accepts: not a hash libsodium would verify (its strings are
        // at most crypto_pwhash_STRBYTES), refused here at once.
        return verify_password_here(phc, password);
    }
    wiped_request request;
    request.bytes.reserve(9 + phc.size() + password.size());
    request.bytes += 'v';
    put(request.bytes, static_cast<std::uint32_t>(phc.size()));
    request.bytes += phc;
    put(request.bytes, static_cast<std::uint32_t>(password.size()));
    request.bytes += password;
    std::string reply;
    if (!exchange(request.bytes, reply)) {
        return verify_password_here(phc, password);
    }
    return reply == "1";
}

std::optional<std::string> hash_helper::hash(std::string_view password,
                                             const argon2_params& params) {
    if (password.size() > max_password_bytes) {
        return hash_password_here(password, params);  // authctl refuses such passwords before
    }
    wiped_request request;
    request.bytes.reserve(21 + password.size());
    request.bytes += 'h';
    put(request.bytes, static_cast<std::uint64_t>(params.ops));
    put(request.bytes, static_cast<std::uint64_t>(params.memory_bytes));
    put(request.bytes, static_cast<std::uint32_t>(password.size()));
    request.bytes += password;
    std::string reply;
    if (!exchange(request.bytes, reply)) {
        return hash_password_here(password, params);
    }
    if (reply.empty() || reply[0] != '1') {
        return std::nullopt;
    }
    return reply.substr(1);
}

namespace {

// The start-up self-check: a known answer at 2 MiB, t=1 (about a millisecond).
constexpr std::string_view self_check_password = "authd hash helper self-check";
const std::string self_check_phc =
    "$argon2id$v=19$m=2048,t=1,p=1$1lVBOn5arrZdGIe1cU1qGg$"
    "k5oXM3e2dLkmBIeBZpislTwSnZN2wAI4E2FYDh0J17Y";
constexpr std::size_t self_check_bytes = std::size_t{2048} * 1024;
// From the kernel, 2 MiB cost 512 faults; from the kept memory, the few of libsodium's mallocs.
constexpr long self_check_max_faults = 64;
// How long after an answer the helper waits for the next request before it wipes the answered
// call's memory itself (run_hash_helper).
constexpr int wipe_wait_ms = 1;

long minor_faults() {
    rusage usage{};
    return ::getrusage(RUSAGE_SELF, &usage) == 0 ? usage.ru_minflt : 0;
}

// Switches argon2_memory.hpp's mechanism on when it works here, and says in the log what argon2
// gets: kept memory (fast path on) or the kernel's, as libsodium does it alone (off).
void start_argon2_memory() {
    const bool enabled = enable_argon2_memory(self_check_bytes);
    const auto lent_before = argon2_memory_stats_now().lent;
    const long faults_before = minor_faults();
    const bool right = verify_password_here(self_check_phc, self_check_password);
    const long faults = minor_faults() - faults_before;
    const bool lent = argon2_memory_stats_now().lent > lent_before;
    std::string_view detail = "argon2's memory is kept, reused and wiped after every call";
    if (!argon2_memory_built_in()) {
        detail = "not in this build (sanitizers, or AUTHD_ARGON2_MEMORY=0)";
    } else if (!enabled) {
        detail = "libsodium's code or a region for argon2 could not be had";
    } else if (!right) {
        detail = "the self-check verification failed over kept memory";
    } else if (!lent) {
        detail = "libsodium did not ask for argon2's memory as 1.0.18 does";
    } else if (faults > self_check_max_faults) {
        detail = "kept memory still page-faults";
    }
    const bool on = enabled && right && lent && faults <= self_check_max_faults;
    if (!on) {
        disable_argon2_memory();
    } else {
        // From now on a call's memory is wiped after its answer is sent (run_hash_helper).
        defer_argon2_memory_wipe(true);
    }
    const std::string fault_count = std::to_string(faults);
    const std::string kept = std::to_string(argon2_memory_stats_now().region_bytes);
    log(on || !argon2_memory_built_in() ? log_level::info : log_level::warn, "hash_helper_memory",
        {{"fast_path", on ? "on" : "off"},
         {"page_faults_per_verification", fault_count},
         {"kept_bytes", kept},
         {"detail", detail}});
}

// After a call: says when the kept memory grew (a larger memory cost) or was given up.
void log_argon2_memory_change(argon2_memory_stats& last) {
    const argon2_memory_stats now = argon2_memory_stats_now();
    if (now.region_bytes != last.region_bytes || now.retired != last.retired) {
        const std::string kept = std::to_string(now.region_bytes);
        log(now.retired ? log_level::warn : log_level::info, "hash_helper_memory",
            {{"fast_path", now.active ? "on" : "off"},
             {"kept_bytes", kept},
             {"detail", now.retired ? "argon2's memory was released unexpectedly: the kernel "
                                      "serves argon2 from now on"
                                    : "kept memory resized for a larger memory cost"}});
    }
    last = now;
}

}  // namespace

int run_hash_helper(int fd) {
    // Before any argon2 call: without it libsodium runs its reference core, twice as slow.
    if (sodium_init() < 0) {
        return 1;
    }
    // Ends with the hash worker that started it (and when its socket closes, below).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    start_argon2_memory();
    const wipe_kept_memory_at_end wipe_at_end;
    argon2_memory_stats kept = argon2_memory_stats_now();
    long last_faults = 0;
    std::string phc;
    std::string password;
    for (;;) {
        // The last 'v' or 'h' answered, its blocks are still in the kept memory (deferred wipes):
        // wiped when the next 'v' or 'h' comes, before it is read any further, if it comes within
        // wipe_wait_ms, as it does while logins queue (the helper sleeps meanwhile, as before
        // the answer, leaving the core to its worker's work between two verifications);
        // otherwise now, before the helper waits on. So the wipe never delays an answer, and idle
        // memory holds zeros within a millisecond or two.
        pollfd next{fd, POLLIN, 0};
        if (::poll(&next, 1, wipe_wait_ms) <= 0) {
            argon2_memory_wipe();
        }
        char op = 0;
        if (!read_exact(fd, &op, 1)) {
            return 0;  // authd closed the socket
        }
        if (op != 's') {
            argon2_memory_wipe();  // an imported hash's call lends nothing: wiped here, not there
        }
        if (op == 'v') {
            if (!get_string(fd, phc, max_phc_bytes) ||
                !get_string(fd, password, static_cast<std::uint32_t>(max_password_bytes))) {
                return 1;
            }
            const long faults_before = minor_faults();
            const char answer = verify_password_here(phc, password) ? '1' : '0';
            last_faults = minor_faults() - faults_before;
            wipe(password);
            log_argon2_memory_change(kept);
            if (!write_all(fd, &answer, 1)) {
                return 1;
            }
        } else if (op == 'h') {
            std::uint64_t ops = 0;
            std::uint64_t memory = 0;
            if (!get(fd, ops) || !get(fd, memory) ||
                !get_string(fd, password, static_cast<std::uint32_t>(max_password_bytes))) {
                return 1;
            }
            std::optional<std::string> made;
            const long faults_before = minor_faults();
            if (ops >= crypto_pwhash_argon2id_OPSLIMIT_MIN &&
                ops <= crypto_pwhash_argon2id_OPSLIMIT_MAX &&
                memory >= crypto_pwhash_argon2id_MEMLIMIT_MIN &&
                memory <= crypto_pwhash_argon2id_MEMLIMIT_MAX) {
                made = hash_password_here(password, {ops, static_cast<std::size_t>(memory)});
            }
            last_faults = minor_faults() - faults_before;
            wipe(password);
            log_argon2_memory_change(kept);
            std::string reply(1, made ? '1' : '0');
            if (made) {
                put(reply, static_cast<std::uint32_t>(made->size()));
                reply += *made;
            }
            if (!write_all(fd, reply.data(), reply.size())) {
                return 1;
            }
        } else if (op == 's') {
            const argon2_memory_stats now = argon2_memory_stats_now();
            std::string reply(1, '1');
            put(reply, static_cast<std::uint8_t>(now.active));
            put(reply, static_cast<std::uint8_t>(now.retired));
            put(reply, static_cast<std::uint64_t>(now.lent));
            put(reply, static_cast<std::uint64_t>(now.grown));
            put(reply, static_cast<std::uint64_t>(now.region_bytes));
            put(reply, static_cast<std::uint64_t>(last_faults));
            put(reply, static_cast<std::uint64_t>(argon2_memory_nonzero_bytes()));
            if (!write_all(fd, reply.data(), reply.size())) {
                return 1;
            }
        } else {
            return 1;
        }
    }
}

}  // namespace authd::server
