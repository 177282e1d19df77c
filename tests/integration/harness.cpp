#include "harness.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/parser.hpp>

extern char** environ;

#ifndef AUTHD_BIN
#error "AUTHD_BIN must name the authd binary (tests/CMakeLists.txt)"
#endif
#ifndef AUTHCTL_BIN
#error "AUTHCTL_BIN must name the authctl binary (tests/CMakeLists.txt)"
#endif
#ifndef AUTHD_TESTS_DIR
#error "AUTHD_TESTS_DIR must name the tests/ source directory (tests/CMakeLists.txt)"
#endif

namespace authd_it {

namespace http = boost::beast::http;
using clock = std::chrono::steady_clock;

namespace {

// A peer that closed must not kill the test binary: writes report EPIPE instead. (Children get
// the default disposition back, see spawn().)
[[maybe_unused]] const bool sigpipe_ignored = [] {
    std::signal(SIGPIPE, SIG_IGN);
    return true;
}();

std::string errno_text(const char* what) {
    return std::string(what) + ": " + std::strerror(errno);
}

struct fd_pair {
    int read = -1;
    int write = -1;
};

fd_pair make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw std::runtime_error(errno_text("pipe2"));
    }
    return {fds[0], fds[1]};
}

void close_fd(int& fd) {
    if (fd >= 0) {
        ::close(fd);
        fd = -1;
    }
}

int remaining_ms(clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    return static_cast<int>(std::max<std::int64_t>(0, left.count()));
}

// The environment of a child: ours, with extra's variables set (replacing ours of the same name).
std::vector<std::string> child_environment(
    const std::vector<std::pair<std::string, std::string>>& extra) {
    std::vector<std::string> out;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        const std::string_view entry(*e);
        const auto name = entry.substr(0, entry.find('='));
        const bool replaced = std::any_of(extra.begin(), extra.end(),
                                          [&](const auto& kv) { return kv.first == name; });
        if (!replaced) {
            out.emplace_back(entry);
        }
    }
    for (const auto& [name, value] : extra) {
        out.push_back(name + "=" + value);
    }
    return out;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> out;
    out.reserve(strings.size() + 1);
    for (auto& s : strings) {
        out.push_back(s.data());
    }
    out.push_back(nullptr);
    return out;
}

// posix_spawn with the child's standard streams on the given descriptors (-1: /dev/null), the
// default SIGPIPE disposition and an empty signal mask. Throws on failure.
pid_t spawn(const std::vector<std::string>& argv_in, int in_fd, int out_fd, int err_fd,
            const std::vector<std::pair<std::string, std::string>>& env = {}) {
    if (argv_in.empty()) {
        throw std::invalid_argument("spawn: empty argv");
    }
    std::vector<std::string> argv_strings = argv_in;
    auto argv = c_strings(argv_strings);
    auto env_strings = child_environment(env);
    auto envp = c_strings(env_strings);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const int fds[3] = {in_fd, out_fd, err_fd};
    for (int target = 0; target < 3; ++target) {
        if (fds[target] >= 0) {
            posix_spawn_file_actions_adddup2(&actions, fds[target], target);
        } else {
            posix_spawn_file_actions_addopen(&actions, target, "/dev/null",
                                             target == 0 ? O_RDONLY : O_WRONLY, 0);
        }
    }
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigset_t empty;
    sigemptyset(&empty);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

    pid_t pid = -1;
    const bool search = argv_in[0].find('/') == std::string::npos;
    const int rc = search ? ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data())
                          : ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        throw std::runtime_error("cannot start " + argv_in[0] + ": " + std::strerror(rc));
    }
    return pid;
}

void decode_status(int status, int& exit_code, int& sig) {
    if (WIFEXITED(status)) {
        exit_code = WEXITSTATUS(status);
        sig = 0;
    } else if (WIFSIGNALED(status)) {
        exit_code = -1;
        sig = WTERMSIG(status);
    }
}

}  // namespace

// --- paths -----------------------------------------------------------------------------------

std::string authd_bin() {
    return AUTHD_BIN;
}
std::string authctl_bin() {
    return AUTHCTL_BIN;
}
std::string tests_dir() {
    return AUTHD_TESTS_DIR;
}

std::string python_bin() {
    if (const char* p = std::getenv("AUTHD_TEST_PYTHON"); p != nullptr && *p != '\0') {
        return p;
    }
    if (::access("/usr/bin/python3", X_OK) == 0) {
        return "/usr/bin/python3";
    }
    return "python3";
}

// --- child processes -------------------------------------------------------------------------

run_result run_command(const std::vector<std::string>& argv, std::string_view stdin_data,
                       const std::vector<std::pair<std::string, std::string>>& env,
                       std::chrono::milliseconds timeout) {
    auto in = make_pipe();
    auto out = make_pipe();
    auto err = make_pipe();
    pid_t pid = -1;
    try {
        pid = spawn(argv, in.read, out.write, err.write, env);
    } catch (...) {
        for (int* fd : {&in.read, &in.write, &out.read, &out.write, &err.read, &err.write}) {
            close_fd(*fd);
        }
        throw;
    }
    close_fd(in.read);
    close_fd(out.write);
    close_fd(err.write);
    ::fcntl(in.write, F_SETFL, O_NONBLOCK);

    run_result result;
    const auto deadline = clock::now() + timeout;
    std::size_t written = 0;
    if (stdin_data.empty()) {
        close_fd(in.write);
    }
    while (out.read >= 0 || err.read >= 0) {
        std::array<pollfd, 3> fds{};
        nfds_t n = 0;
        int* owners[3];
        auto add = [&](int& fd, short events) {
            if (fd >= 0) {
                fds[n] = pollfd{fd, events, 0};
                owners[n] = &fd;
                ++n;
            }
        };
        add(in.write, POLLOUT);
        add(out.read, POLLIN);
        add(err.read, POLLIN);
        const int ready = ::poll(fds.data(), n, remaining_ms(deadline));
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready <= 0) {
            result.timed_out = true;
            ::kill(pid, SIGKILL);
            break;
        }
        for (nfds_t i = 0; i < n; ++i) {
            if (fds[i].revents == 0) {
                continue;
            }
            int& fd = *owners[i];
            if (&fd == &in.write) {
                const ssize_t w =
                    ::write(fd, stdin_data.data() + written, stdin_data.size() - written);
                if (w > 0) {
                    written += static_cast<std::size_t>(w);
                }
                if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == stdin_data.size()) {
                    close_fd(in.write);  // done, or the child stopped reading (EPIPE)
                }
                continue;
            }
            char chunk[4096];
            const ssize_t r = ::read(fd, chunk, sizeof chunk);
            if (r > 0) {
                (&fd == &out.read ? result.out : result.err)
                    .append(chunk, static_cast<std::size_t>(r));
            } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
                close_fd(fd);
            }
        }
    }
    for (int* fd : {&in.write, &out.read, &err.read}) {
        close_fd(*fd);
    }
    // Both outputs closed: the child is exiting (or was killed). Wait for it, boundedly.
    int status = 0;
    for (;;) {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            break;
        }
        if (r < 0 && errno != EINTR) {
            throw std::runtime_error(errno_text("waitpid"));
        }
        if (clock::now() > deadline && !result.timed_out) {
            result.timed_out = true;
            ::kill(pid, SIGKILL);
        }
        std::this_thread::sleep_for(2ms);
    }
    decode_status(status, result.exit_code, result.signal);
    return result;
}

temp_dir::temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/authd-it-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
        throw std::runtime_error(errno_text("mkdtemp"));
    }
    path_ = pattern;
}

temp_dir::~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

test_env::test_env() : key_file_(dir_.file("signing.key")), db_path_(dir_.file("users.db")) {
    generate_key(key_file_);
}

void test_env::add_user(const std::string& name, const std::string& password,
                        const hash_cost& cost) const {
    const auto r = run_command({authctl_bin(), "--store", store_uri(), "--hash-memory", cost.memory,
                                "--hash-ops", cost.ops, "user", "add", name},
                               password + "\n");
    if (r.exit_code != 0) {
        ADD_FAILURE() << "authctl user add " << name << " exited " << r.exit_code << " (signal "
                      << r.signal << "): " << r.err;
        throw std::runtime_error("authctl user add failed");
    }
}

run_result test_env::authctl(const std::vector<std::string>& args, std::string_view input,
                             const hash_cost& cost) const {
    std::vector<std::string> argv{authctl_bin(), "--store",    store_uri(), "--hash-memory",
                                  cost.memory,   "--hash-ops", cost.ops};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, input);
}

void test_env::generate_key(const std::string& path) {
    const auto r = run_command({authctl_bin(), "key", "generate", path});
    if (r.exit_code != 0) {
        throw std::runtime_error("authctl key generate " + path + " exited " +
                                 std::to_string(r.exit_code) + ": " + r.err);
    }
}

// --- authd_process ---------------------------------------------------------------------------

authd_process::authd_process(const std::vector<std::string>& args) {
    std::vector<std::string> argv{authd_bin()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto out = make_pipe();
    auto err = make_pipe();
    try {
        pid_ = spawn(argv, -1, out.write, err.write);
    } catch (...) {
        for (int* fd : {&out.read, &out.write, &err.read, &err.write}) {
            close_fd(*fd);
        }
        throw;
    }
    close_fd(out.write);
    close_fd(err.write);
    err_thread_ = std::thread([this, fd = err.read] { reader(fd, true); });
    out_thread_ = std::thread([this, fd = out.read] { reader(fd, false); });
}

authd_process::~authd_process() {
    if (!exited_ && pid_ > 0) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        exited_ = true;
    }
    if (err_thread_.joinable()) {
        err_thread_.join();
    }
    if (out_thread_.joinable()) {
        out_thread_.join();
    }
}

void authd_process::reader(int fd, bool is_stderr) {
    char chunk[4096];
    for (;;) {
        const ssize_t r = ::read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        const std::lock_guard lock(mutex_);
        if (!is_stderr) {
            out_.append(chunk, static_cast<std::size_t>(r));
            continue;
        }
        err_partial_.append(chunk, static_cast<std::size_t>(r));
        std::size_t start = 0;
        for (auto nl = err_partial_.find('\n'); nl != std::string::npos;
             nl = err_partial_.find('\n', start)) {
            err_lines_.push_back(err_partial_.substr(start, nl - start));
            start = nl + 1;
        }
        err_partial_.erase(0, start);
        changed_.notify_all();
    }
    ::close(fd);
    if (is_stderr) {
        const std::lock_guard lock(mutex_);
        if (!err_partial_.empty()) {
            err_lines_.push_back(err_partial_);
            err_partial_.clear();
        }
        err_closed_ = true;
        changed_.notify_all();
    }
}

std::optional<std::uint16_t> authd_process::wait_listening(std::chrono::milliseconds timeout) {
    constexpr std::string_view event = R"("event":"listening")";
    constexpr std::string_view address = R"("address":")";
    std::unique_lock lock(mutex_);
    std::optional<std::uint16_t> port;
    changed_.wait_for(lock, timeout, [&] {
        for (const auto& line : err_lines_) {
            if (line.find(event) == std::string::npos) {
                continue;
            }
            const auto a = line.find(address);
            if (a == std::string::npos) {
                continue;
            }
            const auto begin = a + address.size();
            const auto end = line.find('"', begin);
            const auto colon = line.rfind(':', end);
            if (end == std::string::npos || colon == std::string::npos || colon < begin) {
                continue;
            }
            const auto digits = line.substr(colon + 1, end - colon - 1);
            if (digits.empty() || digits.size() > 5 ||
                !std::all_of(digits.begin(), digits.end(),
                             [](char c) { return c >= '0' && c <= '9'; })) {
                continue;
            }
            const auto value = std::stoul(digits);
            if (value == 0 || value > 65535) {
                continue;
            }
            port = static_cast<std::uint16_t>(value);
            return true;
        }
        return err_closed_;
    });
    if (port) {
        port_ = *port;
    }
    return port;
}

void authd_process::signal(int sig) const {
    if (!exited_ && pid_ > 0) {
        ::kill(pid_, sig);
    }
}

namespace {

// The value of a "Name:\tHEX" line of a /proc status file; nullopt when it cannot be read.
std::optional<std::uint64_t> status_mask(const std::string& path, std::string_view name) {
    std::ifstream status(path);
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind(name, 0) == 0) {
            return std::stoull(line.substr(name.size()), nullptr, 16);
        }
    }
    return std::nullopt;
}

}  // namespace

// True when the thread sleeps in rt_sigtimedwait: the kernel then shows the signals it waits for
// as unblocked, though they are taken synchronously by that thread (authd's main thread).
namespace {
bool in_sigtimedwait(const std::filesystem::path& task) {
    constexpr int rt_sigtimedwait_nr = 128;  // x86_64
    std::ifstream in(task / "syscall");
    int nr = -1;
    return static_cast<bool>(in >> nr) && nr == rt_sigtimedwait_nr;
}
}  // namespace

bool authd_process::wait_signal_handling(std::chrono::milliseconds timeout) const {
    // Handled means: a handler is installed (SigCgt, process-wide), or the signals are blocked in
    // every thread, or taken by one sleeping in sigtimedwait (a sigwait design, authd's). Blocked
    // in one thread only does not count: glibc blocks all signals in a thread while it creates
    // another, and a signal then goes to another thread.
    const auto deadline = clock::now() + timeout;
    const auto proc = "/proc/" + std::to_string(pid_);
    const std::uint64_t wanted = (1ULL << (SIGTERM - 1)) | (1ULL << (SIGINT - 1));
    for (;;) {
        const auto caught = status_mask(proc + "/status", "SigCgt:");
        if (!caught) {
            return false;  // gone
        }
        bool handled = (*caught & wanted) == wanted;
        if (!handled) {
            std::error_code ec;
            bool all_blocked = true;
            std::size_t threads = 0;
            for (const auto& task : std::filesystem::directory_iterator(proc + "/task", ec)) {
                const auto blocked = status_mask(task.path().string() + "/status", "SigBlk:");
                ++threads;
                if (blocked && (*blocked & wanted) != wanted && !in_sigtimedwait(task.path())) {
                    all_blocked = false;
                }
            }
            handled = !ec && threads > 0 && all_blocked;
        }
        if (handled) {
            return true;
        }
        if (clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(1ms);
    }
}

std::optional<int> authd_process::wait_exit(std::chrono::milliseconds timeout) {
    if (exited_) {
        return exit_status_;
    }
    const auto deadline = clock::now() + timeout;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            decode_status(status, exit_status_, term_signal_);
            exited_ = true;
            return exit_status_;
        }
        if (r < 0 && errno != EINTR) {
            throw std::runtime_error(errno_text("waitpid"));
        }
        if (clock::now() >= deadline) {
            return std::nullopt;
        }
        std::this_thread::sleep_for(5ms);
    }
}

int authd_process::terminate(std::chrono::milliseconds timeout) {
    signal(SIGTERM);
    if (auto status = wait_exit(timeout)) {
        return *status;
    }
    ADD_FAILURE() << "authd did not exit within " << timeout.count()
                  << " ms of SIGTERM: killed with SIGKILL";
    ::kill(pid_, SIGKILL);
    (void)wait_exit(60s);
    return -1;
}

std::vector<std::string> authd_process::stderr_lines() const {
    const std::lock_guard lock(mutex_);
    return err_lines_;
}

std::string authd_process::stderr_text() const {
    const std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& line : err_lines_) {
        out += line;
        out += '\n';
    }
    out += err_partial_;
    return out;
}

std::string authd_process::stdout_text() const {
    const std::lock_guard lock(mutex_);
    return out_;
}

bool authd_process::wait_for_stderr(std::string_view needle, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] {
        return std::any_of(err_lines_.begin(), err_lines_.end(), [&](const std::string& l) {
            return l.find(needle) != std::string::npos;
        });
    });
}

std::vector<std::string> authd_args::build(const test_env& env) const {
    std::vector<std::string> args{
        "--listen",      "127.0.0.1:0", "--store",    env.store_uri(),  "--key-file",
        env.key_file(),  "--threads",   threads,      "--hash-workers", hash_workers,
        "--hash-memory", cost.memory,   "--hash-ops", cost.ops,         "--shutdown-timeout",
        shutdown_timeout};
    if (hash_queue) {
        args.insert(args.end(), {"--hash-queue", *hash_queue});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

// --- HTTP ------------------------------------------------------------------------------------

std::string status_line(const response& r) {
    std::ostringstream s;
    s << "HTTP/" << r.version() / 10 << '.' << r.version() % 10 << ' ' << r.result_int() << ' '
      << r.reason();
    return s.str();
}

std::string header(const response& r, std::string_view name) {
    const auto it = r.find(name);
    return it == r.end() ? std::string() : std::string(it->value());
}

std::size_t header_count(const response& r, std::string_view name) {
    return r.count(name);
}

const char* to_string(close_kind k) {
    switch (k) {
        case close_kind::eof:
            return "eof";
        case close_kind::reset:
            return "reset";
        case close_kind::timeout:
            return "timeout";
        case close_kind::data:
            return "data";
    }
    return "?";
}

http_client::http_client(std::uint16_t port, std::chrono::milliseconds timeout)
    : timeout_(timeout) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
        throw std::runtime_error(errno_text("socket"));
    }
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = 0;
    do {
        rc = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        const auto message = errno_text("connect");
        ::close(fd_);
        fd_ = -1;
        throw std::runtime_error(message + " (127.0.0.1:" + std::to_string(port) + ")");
    }
}

http_client::~http_client() {
    close();
}

void http_client::close(bool abort) {
    if (fd_ < 0) {
        return;
    }
    if (abort) {
        const linger l{1, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    ::close(fd_);
    fd_ = -1;
}

void http_client::send(std::string_view data) {
    const auto deadline = clock::now() + timeout_;
    while (!data.empty()) {
        const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            data.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd p{fd_, POLLOUT, 0};
            if (::poll(&p, 1, remaining_ms(deadline)) == 0) {
                throw std::runtime_error("send: timed out");
            }
            continue;
        }
        throw std::runtime_error(errno_text("send"));
    }
}

void http_client::send_slowly(std::string_view data, std::chrono::milliseconds pause) {
    for (std::size_t i = 0; i < data.size(); ++i) {
        send(data.substr(i, 1));
        if (i + 1 < data.size()) {
            std::this_thread::sleep_for(pause);
        }
    }
}

long http_client::fill(std::chrono::milliseconds timeout) {
    const auto deadline = clock::now() + timeout;
    for (;;) {
        pollfd p{fd_, POLLIN, 0};
        const int ready = ::poll(&p, 1, remaining_ms(deadline));
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready == 0) {
            throw std::runtime_error("read: no data within " + std::to_string(timeout.count()) +
                                     " ms");
        }
        auto space = buf_.prepare(16 * 1024);
        const ssize_t n = ::recv(fd_, space.data(), space.size(), 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        buf_.commit(static_cast<std::size_t>(n));
        return n;
    }
}

namespace {

enum class parse_outcome { done, need_more, error };

parse_outcome feed(http::response_parser<http::string_body>& parser, boost::beast::flat_buffer& buf,
                   std::string& error) {
    while (buf.size() > 0 && !parser.is_done()) {
        boost::beast::error_code ec;
        const auto used = parser.put(buf.data(), ec);
        buf.consume(used);
        if (ec == http::error::need_more) {
            return parse_outcome::need_more;
        }
        if (ec) {
            error = ec.message();
            return parse_outcome::error;
        }
    }
    return parser.is_done() ? parse_outcome::done : parse_outcome::need_more;
}

}  // namespace

response http_client::read_response() {
    auto r = try_read_response(timeout_);
    if (!r) {
        throw std::runtime_error("read_response: the connection ended (or nothing came within " +
                                 std::to_string(timeout_.count()) + " ms) before a response");
    }
    return std::move(*r);
}

std::optional<response> http_client::try_read_response(std::chrono::milliseconds timeout) {
    const auto deadline = clock::now() + timeout;
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    parser.body_limit(1024 * 1024);
    bool got_some = buf_.size() > 0;
    for (;;) {
        std::string error;
        switch (feed(parser, buf_, error)) {
            case parse_outcome::done:
                return parser.release();
            case parse_outcome::error:
                throw std::runtime_error("bad response: " + error);
            case parse_outcome::need_more:
                break;
        }
        long n = 0;
        try {
            n = fill(
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()));
        } catch (const std::runtime_error&) {
            if (!got_some) {
                return std::nullopt;
            }
            throw;
        }
        if (n > 0) {
            got_some = true;
            continue;
        }
        if (!got_some) {
            return std::nullopt;  // EOF or reset before the response began
        }
        if (n == 0) {
            boost::beast::error_code ec;
            parser.put_eof(ec);
            if (!ec && parser.is_done()) {
                return parser.release();
            }
            throw std::runtime_error("the connection ended in the middle of a response");
        }
        errno = static_cast<int>(-n);
        throw std::runtime_error(errno_text("read in the middle of a response"));
    }
}

response http_client::roundtrip(std::string_view request) {
    send(request);
    return read_response();
}

close_kind http_client::wait_close(std::chrono::milliseconds timeout) {
    if (buf_.size() > 0) {
        return close_kind::data;
    }
    long n = 0;
    try {
        n = fill(timeout);
    } catch (const std::runtime_error&) {
        return close_kind::timeout;
    }
    if (n > 0) {
        return close_kind::data;
    }
    if (n == 0) {
        return close_kind::eof;
    }
    return close_kind::reset;  // ECONNRESET and the like
}

std::uint16_t http_client::local_port() const {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        throw std::runtime_error(errno_text("getsockname"));
    }
    return ntohs(addr.sin_port);
}

bool wait_server_read(std::uint16_t server_port, const std::vector<std::uint16_t>& client_ports,
                      std::chrono::milliseconds timeout) {
    const auto deadline = clock::now() + timeout;
    for (;;) {
        // "sl local_address rem_address st tx_queue:rx_queue ...", addresses as HEXIP:HEXPORT.
        std::ifstream tcp("/proc/net/tcp");
        std::string line;
        std::getline(tcp, line);  // the column titles
        std::size_t drained = 0;
        while (std::getline(tcp, line)) {
            std::istringstream fields(line);
            std::string sl, local, remote, state, queues;
            if (!(fields >> sl >> local >> remote >> state >> queues)) {
                continue;
            }
            const auto port_of = [](const std::string& address) {
                const auto colon = address.find(':');
                return colon == std::string::npos
                           ? 0UL
                           : std::stoul(address.substr(colon + 1), nullptr, 16);
            };
            if (port_of(local) != server_port || std::find(client_ports.begin(), client_ports.end(),
                                                           port_of(remote)) == client_ports.end()) {
                continue;
            }
            const auto colon = queues.find(':');
            if (colon != std::string::npos &&
                std::stoul(queues.substr(colon + 1), nullptr, 16) == 0) {
                ++drained;
            }
        }
        if (drained == client_ports.size()) {
            return true;
        }
        if (clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(1ms);
    }
}

std::string make_request(std::string_view method, std::string_view target,
                         const std::vector<std::string>& header_lines, bool close) {
    std::string out;
    out += method;
    out += ' ';
    out += target;
    out += " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& line : header_lines) {
        out += line;
        out += "\r\n";
    }
    if (close) {
        out += "Connection: close\r\n";
    }
    out += "\r\n";
    return out;
}

std::string login_request(std::string_view user, std::string_view password, bool close) {
    return make_request("GET", "/login",
                        {"Password: " + std::string(password), "User-Name: " + std::string(user)},
                        close);
}

// --- JSON bodies and tokens ------------------------------------------------------------------

std::string error_body(int code, std::string_view message) {
    return "{\"code\":" + std::to_string(code) + ",\"status\":\"error\",\"message\":\"" +
           std::string(message) + "\"}";
}

std::optional<std::string> token_of(std::string_view body) {
    constexpr std::string_view prefix = R"({"code":200,"status":"ok","token":")";
    constexpr std::string_view suffix = R"("})";
    if (body.size() <= prefix.size() + suffix.size() || body.substr(0, prefix.size()) != prefix ||
        body.substr(body.size() - suffix.size()) != suffix) {
        return std::nullopt;
    }
    const auto token = body.substr(prefix.size(), body.size() - prefix.size() - suffix.size());
    std::size_t dots = 0;
    for (const char c : token) {
        const bool b64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (c == '.') {
            ++dots;
        } else if (!b64) {
            return std::nullopt;
        }
    }
    if (dots != 2) {
        return std::nullopt;
    }
    return std::string(token);
}

std::optional<std::string> base64url_decode(std::string_view text) {
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') {
            return c - 'A';
        }
        if (c >= 'a' && c <= 'z') {
            return c - 'a' + 26;
        }
        if (c >= '0' && c <= '9') {
            return c - '0' + 52;
        }
        if (c == '-') {
            return 62;
        }
        if (c == '_') {
            return 63;
        }
        return -1;
    };
    if (text.size() % 4 == 1) {
        return std::nullopt;
    }
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (const char c : text) {
        const int v = value(c);
        if (v < 0) {
            return std::nullopt;
        }
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    // The leftover bits of the last character must be zero (canonical encoding).
    if ((acc & ((1U << bits) - 1)) != 0) {
        return std::nullopt;
    }
    return out;
}

std::optional<jwt_parts> split_jwt(std::string_view token) {
    const auto first = token.find('.');
    if (first == std::string_view::npos) {
        return std::nullopt;
    }
    const auto second = token.find('.', first + 1);
    if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
        return std::nullopt;
    }
    auto payload = base64url_decode(token.substr(first + 1, second - first - 1));
    if (!payload) {
        return std::nullopt;
    }
    return jwt_parts{std::string(token.substr(0, first)), std::move(*payload),
                     std::string(token.substr(second + 1))};
}

std::optional<token_payload> parse_payload(std::string_view json) {
    constexpr std::string_view user_prefix = R"({"user":")";
    constexpr std::string_view exp_key = R"(","exp":)";
    if (json.substr(0, user_prefix.size()) != user_prefix || json.empty() || json.back() != '}') {
        return std::nullopt;
    }
    const auto user_end = json.find(exp_key, user_prefix.size());
    if (user_end == std::string_view::npos) {
        return std::nullopt;
    }
    const auto user = json.substr(user_prefix.size(), user_end - user_prefix.size());
    if (user.find_first_of("\"\\") != std::string_view::npos) {
        return std::nullopt;  // the tests' user names need no escaping
    }
    // Then the token id and the time of issue:
    // {"user":"...","exp":N,"jti":"<22 base64url characters>","iat":N}.
    constexpr std::string_view jti_key = R"(,"jti":")";
    constexpr std::string_view iat_key = R"(","iat":)";
    const auto jti_at = json.find(jti_key, user_end + exp_key.size());
    const auto iat_at = jti_at == std::string_view::npos ? jti_at : jti_at + jti_key.size() + 22;
    if (jti_at == std::string_view::npos || json.substr(iat_at, iat_key.size()) != iat_key) {
        return std::nullopt;
    }
    const auto iat =
        json.substr(iat_at + iat_key.size(), json.size() - 1 - iat_at - iat_key.size());
    if (iat.empty() || iat.size() > 18 ||
        !std::all_of(iat.begin(), iat.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    const auto digits = json.substr(user_end + exp_key.size(), jti_at - user_end - exp_key.size());
    if (digits.empty() || digits.size() > 18 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    return token_payload{std::string(user), std::stoll(std::string(digits))};
}

run_result jwt_check(const std::string& key_file, const std::string& user,
                     const std::string& token) {
    return run_command({python_bin(), tests_dir() + "/jwt_check.py"}, token + "\n",
                       {{"JWT_KEY_FILE", key_file}, {"JWT_EXPECTED_USER", user}}, 60s);
}

client_from::client_from(const std::string& source, std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    ::inet_pton(AF_INET, source.c_str(), &src.sin_addr);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
        ::connect(fd_, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
        const std::string error = std::strerror(errno);
        if (fd_ >= 0) {
            ::close(fd_);
        }
        throw std::runtime_error("connect from " + source + ": " + error);
    }
    timeval tv{30, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

client_from::~client_from() {
    ::close(fd_);
}

bool client_from::send(const std::string& data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
}

std::string client_from::read_response() {
    char buf[4096];
    for (;;) {
        const auto end = in_.find("\r\n\r\n");
        if (end != std::string::npos) {
            const auto cl = in_.find("Content-Length: ");
            const auto length =
                cl == std::string::npos || cl > end ? 0 : std::stoul(in_.substr(cl + 16));
            if (in_.size() >= end + 4 + length) {
                auto out = in_.substr(0, end + 4 + length);
                in_.erase(0, out.size());
                return out;
            }
        }
        const auto n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) {
            return {};
        }
        in_.append(buf, static_cast<std::size_t>(n));
    }
}

std::string client_from::roundtrip(const std::string& request) {
    return send(request) ? read_response() : std::string();
}

std::string body_of(const std::string& response) {
    const auto end = response.find("\r\n\r\n");
    return end == std::string::npos ? std::string() : response.substr(end + 4);
}

bool has_line(const std::string& response, const std::string& line) {
    return response.find("\r\n" + line + "\r\n") != std::string::npos;
}

std::string login_from(const std::string& source, std::uint16_t port, const std::string& user,
                       const std::string& password) {
    client_from c(source, port);
    return c.roundtrip(login_request(user, password, true));
}

std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof addr;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size) != 0) {
        throw std::runtime_error("cannot find a free port");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

nginx_process::nginx_process(const std::string& site, std::uint16_t port) : port_(port) {
    std::ofstream(dir_.file("authd.conf")) << site;
    std::ofstream(dir_.file("nginx.conf")) << R"(daemon off;
master_process on;
worker_processes 1;
pid nginx.pid;
error_log error.log warn;
events { worker_connections 256; }
http {
access_log off;
client_body_temp_path client_body;
proxy_temp_path proxy;
fastcgi_temp_path fastcgi;
uwsgi_temp_path uwsgi;
scgi_temp_path scgi;
include authd.conf;
}
)";
    const std::vector<std::string> argv{
        "nginx", "-p", dir_.path(), "-c", dir_.file("nginx.conf"), "-e", dir_.file("error.log")};
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    if (::posix_spawnp(&pid_, "nginx", nullptr, nullptr, args.data(), environ) != 0) {
        throw std::runtime_error("cannot start nginx");
    }
}

nginx_process::~nginx_process() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
}

bool nginx_process::wait_ready() const {
    for (int i = 0; i < 250; ++i) {
        try {
            http_client probe(port_, 1s);
            return true;
        } catch (const std::exception&) {
            std::this_thread::sleep_for(20ms);
        }
    }
    return false;
}

std::string nginx_process::error_log() const {
    return read_file(dir_.file("error.log"));
}

bool have_nginx() {
    return run_command({"sh", "-c", "command -v nginx"}).exit_code == 0;
}

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

long metric_value(std::uint16_t port, std::string_view name) {
    http_client c(port);
    const auto r = c.roundtrip(make_request("GET", "/metrics", {}, /*close=*/true));
    const auto line = "\n" + std::string(name) + " ";
    const auto at = r.body().find(line);
    if (at == std::string::npos) {
        ADD_FAILURE() << "no " << name << " in:\n" << r.body();
        return -1;
    }
    return std::stol(r.body().substr(at + line.size()));
}

// --- fixture ---------------------------------------------------------------------------------

void authd_test::start(const authd_args& args) {
    server_ = std::make_unique<authd_process>(args.build(env_));
    if (!server_->wait_listening(10s)) {
        const auto text = server_->stderr_text();
        server_->terminate(5s);
        server_.reset();
        throw std::runtime_error("authd did not report listening within 10 s; its stderr:\n" +
                                 text);
    }
    // authd logs "listening" before it handles SIGTERM (LifecycleTest.
    // SigtermRightAfterListeningExits0): wait for that too, so that the tests' SIGTERM is the
    // graceful one they test. Not fatal when it cannot be seen.
    (void)server_->wait_signal_handling(5s);
}

int authd_test::stop_server() {
    if (!server_) {
        return -1;
    }
    const int status = server_->terminate(15s);
    return status;
}

void authd_test::TearDown() {
    if (!server_) {
        return;
    }
    if (!server_->exited()) {
        const int status = server_->terminate(15s);
        EXPECT_EQ(status, 0) << "authd's exit status after SIGTERM (-1: killed by signal "
                             << server_->term_signal() << ")";
    }
    if (HasFailure()) {
        auto text = server_->stderr_text();
        constexpr std::size_t keep = 6000;
        if (text.size() > keep) {
            text = "...\n" + text.substr(text.size() - keep);
        }
        std::cerr << "--- authd's standard error ---\n" << text << "--- end ---\n";
    }
    server_.reset();
}

}  // namespace authd_it
