#include "processes.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <poll.h>
#include <spawn.h>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include "http_client.hpp"

extern char** environ;

namespace authd_it {

using detail::clock;
using detail::errno_text;
using detail::remaining_ms;

namespace {

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

authd_process::authd_process(const std::vector<std::string>& args,
                             const std::vector<std::string>& launcher) {
    std::vector<std::string> argv(launcher);
    argv.push_back(authd_bin());
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
    std::vector<std::string> args{"--listen",
                                  "127.0.0.1:0",
                                  "--store",
                                  env.store_uri(),
                                  "--key-file",
                                  env.key_file(),
                                  "--threads",
                                  threads,
                                  "--hash-workers",
                                  hash_workers,
                                  "--hash-memory",
                                  cost.memory,
                                  "--hash-ops",
                                  cost.ops,
                                  "--shutdown-timeout",
                                  shutdown_timeout,
                                  "--hash-queue-timeout",
                                  hash_queue_timeout};
    if (hash_queue) {
        args.insert(args.end(), {"--hash-queue", *hash_queue});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

// --- nginx -----------------------------------------------------------------------------------

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

// --- /proc -------------------------------------------------------------------------------------

// The processes authd started (its threads' children), by pid.
std::vector<pid_t> children_of(pid_t pid) {
    std::vector<pid_t> out;
    for (const auto& task :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
        std::ifstream in(task.path() / "children");
        for (pid_t child = 0; in >> child;) {
            out.push_back(child);
        }
    }
    return out;
}

std::vector<pid_t> wait_children(pid_t pid, std::size_t count) {
    // A child listed before its exec still holds what posix_spawn's child had (authd's command
    // line and environment, descriptors before their close): it counts once it runs as a helper.
    const auto helper = [](pid_t child) {
        return proc_file(child, "cmdline").find(std::string("\0--hash-helper\0", 15)) !=
               std::string::npos;
    };
    const auto until = std::chrono::steady_clock::now() + 10s;
    auto children = children_of(pid);
    while ((children.size() != count || !std::all_of(children.begin(), children.end(), helper)) &&
           std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(20ms);
        children = children_of(pid);
    }
    return children;
}

std::string proc_file(pid_t pid, const char* name) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/" + name, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool process_gone(pid_t pid, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
        // Gone, or a zombie nobody waits for any more (its parent is gone too).
        const auto stat = proc_file(pid, "stat");
        const auto state_at = stat.rfind(") ");
        if (stat.empty() || (state_at != std::string::npos && stat[state_at + 2] == 'Z')) {
            return true;
        }
        std::this_thread::sleep_for(50ms);
    }
    return false;
}

}  // namespace authd_it
