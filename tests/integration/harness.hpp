// The integration tests' harness: the real authd and authctl binaries as child processes, and a
// small blocking HTTP/1.1 client on real sockets.
//
// Everything lives in namespace authd_it (authctl_test.cpp keeps its own helpers in an anonymous
// namespace). Nothing here uses authd's own code: the tests check authd from the outside.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <thread>
#include <utility>
#include <vector>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <gtest/gtest.h>

namespace authd_it {

// Whether this test binary (and so the authd beside it) is built with AddressSanitizer or
// ThreadSanitizer: their allocators keep freed memory (quarantine, per-thread caches) and their
// shadow grows with every page touched, so RSS says nothing of what authd itself holds.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool built_with_sanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool built_with_sanitizer = true;
#else
inline constexpr bool built_with_sanitizer = false;
#endif
#else
inline constexpr bool built_with_sanitizer = false;
#endif

using namespace std::chrono_literals;

// --- paths -----------------------------------------------------------------------------------

std::string authd_bin();
std::string authctl_bin();
std::string tests_dir();  // the source directory tests/ (jwt_check.py lives there)
// The interpreter for tests/jwt_check.py: $AUTHD_TEST_PYTHON, else /usr/bin/python3 (Debian's,
// where python3-jwt installs), else python3 on PATH.
std::string python_bin();

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

// A temporary directory, removed with its content on destruction.
class temp_dir {
  public:
    temp_dir();
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const std::string& path() const noexcept { return path_; }
    std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }

  private:
    std::string path_;
};

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
    // Starts authd with args (not including the program name). Does not wait.
    explicit authd_process(const std::vector<std::string>& args);
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
// hashes, two I/O threads and two hash workers. extra is appended (a later option of the same
// name is an error for Program_options, so pass only options not set here, or use the fields).
struct authd_args {
    std::string threads = "2";
    std::string hash_workers = "2";
    std::optional<std::string> hash_queue;
    hash_cost cost = cheap_hash;
    std::string shutdown_timeout = "20s";
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

// --- HTTP ------------------------------------------------------------------------------------

using response = boost::beast::http::response<boost::beast::http::string_body>;

// "HTTP/1.1 200 OK"
std::string status_line(const response& r);

// A header's value ("" when absent); how many times a header appears.
std::string header(const response& r, std::string_view name);
std::size_t header_count(const response& r, std::string_view name);

// What a read found at the end of a connection.
enum class close_kind { eof, reset, timeout, data };
const char* to_string(close_kind k);

// A blocking client connection to 127.0.0.1:port. Every wait has a timeout (the tests never
// hang): a read that times out throws std::runtime_error.
class http_client {
  public:
    explicit http_client(std::uint16_t port, std::chrono::milliseconds timeout = 30s);
    ~http_client();
    http_client(const http_client&) = delete;
    http_client& operator=(const http_client&) = delete;

    // Writes all of data. Throws on failure.
    void send(std::string_view data);
    // Writes data one byte at a time with pause between bytes.
    void send_slowly(std::string_view data, std::chrono::milliseconds pause);

    // Reads one response (bytes past it stay buffered for the next one: pipelining). Throws
    // std::runtime_error on EOF, error or timeout before a complete response.
    response read_response();
    // Reads one response to a HEAD-less request within timeout; nullopt when the connection
    // ended (EOF or reset) before any byte of it, or nothing came within timeout.
    std::optional<response> try_read_response(std::chrono::milliseconds timeout);

    // send() then read_response().
    response roundtrip(std::string_view request);

    // Waits (up to timeout) for what comes next: EOF (an orderly close), a reset, data, or
    // nothing. Data already buffered counts as data.
    close_kind wait_close(std::chrono::milliseconds timeout);

    // Closes now; with abort, sends a reset (SO_LINGER 0) instead of a FIN.
    void close(bool abort = false);

    int fd() const noexcept { return fd_; }
    std::uint16_t local_port() const;

  private:
    // Reads more into buf_; returns bytes read (0 at EOF); -errno on error; throws on timeout.
    long fill(std::chrono::milliseconds timeout);

    int fd_ = -1;
    std::chrono::milliseconds timeout_;
    boost::beast::flat_buffer buf_;
};

// Waits (up to timeout) until the server on server_port has read everything the given clients
// (by their local ports) sent it: the kernel's receive queues of the server's ends of those
// connections (/proc/net/tcp) are empty. authd gives no other sign that a request reached it.
bool wait_server_read(std::uint16_t server_port, const std::vector<std::uint16_t>& client_ports,
                      std::chrono::milliseconds timeout);

// A GET (or other method) request for target with the given header lines ("Name: value"), as
// raw bytes. HTTP/1.1, keep-alive (the default) unless close is set.
std::string make_request(std::string_view method, std::string_view target,
                         const std::vector<std::string>& header_lines, bool close = false);
// GET /login with Password and User-Name (in that order).
std::string login_request(std::string_view user, std::string_view password, bool close = false);

// --- JSON bodies and tokens ------------------------------------------------------------------

// The exact error body authd sends: {"code":N,"status":"error","message":"..."} (messages here
// need no escaping).
std::string error_body(int code, std::string_view message);

// The token of a {"code":200,"status":"ok","token":"..."} body, when the body has exactly that
// shape (and the token only base64url characters and two dots); nullopt otherwise.
std::optional<std::string> token_of(std::string_view body);

// Base64url (RFC 4648 section 5) without padding; nullopt on a bad character or length.
std::optional<std::string> base64url_decode(std::string_view text);

// The three parts of a JWT.
struct jwt_parts {
    std::string header;     // base64url, as sent
    std::string payload;    // decoded JSON text
    std::string signature;  // base64url, as sent
};
std::optional<jwt_parts> split_jwt(std::string_view token);

// The seed's token header, {"typ":"JWT","alg":"HS256"} in base64url.
inline constexpr std::string_view seed_jwt_header = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9";

// Parses a payload of exactly the shape {"user":"NAME","exp":DIGITS,"jti":"ID","iat":DIGITS};
// nullopt otherwise.
struct token_payload {
    std::string user;
    std::int64_t exp = 0;
};
std::optional<token_payload> parse_payload(std::string_view json);

// Runs tests/jwt_check.py (PyJWT): the key file path and the expected user in the environment,
// the token on standard input. True when the script accepts the token.
run_result jwt_check(const std::string& key_file, const std::string& user,
                     const std::string& token);

std::int64_t unix_now();

// The value of the unlabelled sample NAME in authd's /metrics, read on a connection of its own
// that is closed at once; -1 (and a test failure) when there is none.
long metric_value(std::uint16_t port, std::string_view name);

// --- clients from other loopback addresses ----------------------------------------------------

// A blocking client connected from a chosen loopback source address (127.0.0.2, 127.0.0.3, ...),
// so that authd sees distinct client addresses on one machine. Reads time out after 30 s.
class client_from {
  public:
    client_from(const std::string& source, std::uint16_t port);
    ~client_from();
    client_from(const client_from&) = delete;
    client_from& operator=(const client_from&) = delete;

    // Sends all of data; false when the socket is closed.
    bool send(const std::string& data);
    // Reads one whole response (head and body; the rest stays buffered), or "" on a closed socket.
    std::string read_response();
    // send() then read_response().
    std::string roundtrip(const std::string& request);
    int fd() const noexcept { return fd_; }

  private:
    int fd_ = -1;
    std::string in_;
};

// The body of a raw response (what follows the blank line).
std::string body_of(const std::string& response);
// True when the raw response has the header line exactly ("Retry-After: 1").
bool has_line(const std::string& response, const std::string& line);
// One login on a new connection from source; the raw response ("" when closed).
std::string login_from(const std::string& source, std::uint16_t port, const std::string& user,
                       const std::string& password);

inline const std::string not_found_body =
    R"({"code":404,"status":"error","message":"Data not found."})";

// --- nginx -----------------------------------------------------------------------------------

// A port on 127.0.0.1 that was free a moment ago.
std::uint16_t free_port();
// The whole content of a file ("" when it cannot be read).
std::string read_file(const std::string& path);

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

// --- fixture ---------------------------------------------------------------------------------

// A test with its own store and key (env_), and an authd started on demand. TearDown sends
// SIGTERM to a running authd and expects exit status 0.
class authd_test : public ::testing::Test {
  protected:
    void TearDown() override;

    // Starts authd with args and waits for it to listen (and to handle SIGTERM: see
    // authd_process::wait_signal_handling); throws, failing the test, when it does not listen.
    void start(const authd_args& args = {});
    std::uint16_t port() const { return server_->port(); }
    authd_process& server() { return *server_; }

    // SIGTERM and wait; returns the exit status (the server is then gone).
    int stop_server();

    test_env env_;
    std::unique_ptr<authd_process> server_;
};

}  // namespace authd_it
