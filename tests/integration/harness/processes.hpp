// The integration tests' child processes: authctl and other commands run to completion
// (run_command), the test's store and key made with authctl (test_env), authd in the background
// with its output collected (authd_process, started with authd_args), and Debian's nginx in front
// of it (nginx_process).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <thread>
#include <utility>
#include <vector>

#include "common.hpp"
#include "support/temp_dir.hpp"

namespace authd_it {

// A temporary directory, removed with its content on destruction (tests/support/temp_dir.hpp).
using authd_test_support::temp_dir;

// --- child processes -------------------------------------------------------------------------

struct run_result {
    int exit_code = -1;  // the exit status, or -1 when killed by a signal
    int signal = 0;      // the signal that ended it, or 0
    bool timed_out = false;
    std::string out;
    std::string err;
};

// Runs argv[0] (searched on PATH when it has no slash) with stdin_data on its standard input, the
// extra environment variables added to ours, and collects its output. Kills it after timeout.
run_result run_command(const std::vector<std::string>& argv, std::string_view stdin_data = {},
                       const std::vector<std::pair<std::string, std::string>>& env = {},
                       std::chrono::milliseconds timeout = 60s);

// Cheap argon2id parameters (used by authctl and authd alike, so that no rehash happens).
struct hash_cost {
    std::string memory = "64KiB";
    std::string ops = "1";
};
inline const hash_cost cheap_hash{};
// A costly hash, for tests that need logins to stay in the hash pool for a while.
inline const hash_cost costly_hash{"8MiB", "3"};

// A store with users and a signing key, made with authctl in a temporary directory.
class test_env {
  public:
    test_env();

    const temp_dir& dir() const noexcept { return dir_; }
    const std::string& key_file() const noexcept { return key_file_; }
    std::string store_uri() const { return "sqlite:" + db_path_; }

    // authctl --store <this store> --hash-memory M --hash-ops N ARGS..., input on standard input.
    run_result authctl(const std::vector<std::string>& args, std::string_view input = {},
                       const hash_cost& cost = cheap_hash) const;

    // authctl --store ... --hash-memory M --hash-ops N user add NAME, password on stdin.
    // Fails the test (ADD_FAILURE) when authctl does not exit 0.
    void add_user(const std::string& name, const std::string& password,
                  const hash_cost& cost = cheap_hash) const;

    // authctl key generate PATH; fails the test when it does not exit 0.
    static void generate_key(const std::string& path);

  private:
    temp_dir dir_;
    std::string key_file_;
    std::string db_path_;
};

// One authd child process, its standard output and error collected by a thread each.
class authd_process {
  public:
    // Starts authd with args (not including the program name). Does not wait. launcher: a command
    // that execs the rest of its arguments in the same process, put before authd's path (setpriv
    // to run authd as another user, say).
    explicit authd_process(const std::vector<std::string>& args,
                           const std::vector<std::string>& launcher = {});
    // Kills the process if it still runs (SIGKILL), and reaps it.
    ~authd_process();
    authd_process(const authd_process&) = delete;
    authd_process& operator=(const authd_process&) = delete;

    // Waits (up to timeout) for the "listening" log line; returns the port, or nullopt when authd
    // exited or did not say it listens in time.
    std::optional<std::uint16_t> wait_listening(std::chrono::milliseconds timeout = 10s);
    std::uint16_t port() const noexcept { return port_; }
    pid_t pid() const noexcept { return pid_; }

    void signal(int sig) const;

    // Waits (up to timeout) until authd handles SIGTERM and SIGINT itself: /proc/PID/status shows
    // them caught (a handler) or blocked (sigwait). Before that, a SIGTERM kills it outright.
    bool wait_signal_handling(std::chrono::milliseconds timeout) const;

    // Waits for the process to exit; returns its exit status (-1 when killed by a signal), or
    // nullopt when it still runs after timeout.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout);

    // SIGTERM, then waits up to timeout for the exit; SIGKILL (status -1) past it.
    int terminate(std::chrono::milliseconds timeout = 15s);

    bool exited() const noexcept { return exited_; }
    int exit_status() const noexcept { return exit_status_; }
    int term_signal() const noexcept { return term_signal_; }  // what killed it, or 0

    // What authd wrote so far (complete lines of standard error; standard output as is).
    std::vector<std::string> stderr_lines() const;
    std::string stderr_text() const;
    std::string stdout_text() const;

    // Waits for a line of standard error containing needle.
    bool wait_for_stderr(std::string_view needle, std::chrono::milliseconds timeout);

  private:
    void reader(int fd, bool is_stderr);

    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
    bool exited_ = false;
    int exit_status_ = -1;
    int term_signal_ = 0;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<std::string> err_lines_;
    std::string err_partial_;
    std::string out_;
    bool err_closed_ = false;
    std::thread err_thread_;
    std::thread out_thread_;
};

// The arguments of a test authd: an ephemeral port on 127.0.0.1, env's store and key, cheap
// hashes, two I/O threads and two hash workers, and a hash queue timeout of 60 s (authd's 3 s
// default answers 503 to a login that a busy or sanitizer-slowed machine keeps waiting for its
// hash worker, which no test but the ones about it wants). extra is appended (a later option of the
// same name is an error for Program_options, so pass only options not set here, or use the fields).
struct authd_args {
    std::string threads = "2";
    std::string hash_workers = "2";
    std::optional<std::string> hash_queue;
    hash_cost cost = cheap_hash;
    std::string shutdown_timeout = "20s";
    std::string hash_queue_timeout = "60s";
    std::vector<std::string> extra;

    // Fluent setters: authd_args().workers("1").queue("1").hash(costly_hash).
    authd_args& workers(std::string n) {
        hash_workers = std::move(n);
        return *this;
    }
    authd_args& queue(std::string n) {
        hash_queue = std::move(n);
        return *this;
    }
    authd_args& hash(const hash_cost& c) {
        cost = c;
        return *this;
    }
    authd_args& with(std::vector<std::string> args) {
        extra.insert(extra.end(), args.begin(), args.end());
        return *this;
    }

    std::vector<std::string> build(const test_env& env) const;
};

// --- nginx -----------------------------------------------------------------------------------

// Debian's nginx in the foreground, its prefix (configuration, logs, temporary files) in a
// temporary directory; site is the text of the http block's include (server and upstream blocks),
// port the one it listens on (for wait_ready). Stopped with SIGTERM on destruction.
class nginx_process {
  public:
    nginx_process(const std::string& site, std::uint16_t port);
    ~nginx_process();
    nginx_process(const nginx_process&) = delete;
    nginx_process& operator=(const nginx_process&) = delete;

    // True once nginx accepts connections (within 5 s).
    bool wait_ready() const;
    std::string error_log() const;
    // A file in nginx's prefix (an access_log named by the site, say).
    std::string file(std::string_view name) const { return dir_.file(name); }

  private:
    temp_dir dir_;
    std::uint16_t port_;
    pid_t pid_ = -1;
};

// True when Debian's nginx is installed (the tests that need it skip otherwise).
bool have_nginx();

// --- /proc -------------------------------------------------------------------------------------

// The processes pid started (its threads' children).
std::vector<pid_t> children_of(pid_t pid);
// children_of(pid) once it has count entries, each running as a hash helper (its exec done:
// authd's hash workers start their helpers as they start); what it has after 10 s otherwise.
std::vector<pid_t> wait_children(pid_t pid, std::size_t count);
// The content of /proc/PID/NAME ("" when it cannot be read).
std::string proc_file(pid_t pid, const char* name);
// True once pid has ended (or is a zombie no one waits for), false after timeout.
bool process_gone(pid_t pid, std::chrono::milliseconds timeout);

}  // namespace authd_it
