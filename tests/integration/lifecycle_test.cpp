// authd's life as a process: starting (and refusing to), timeouts, clients that go away, and
// shutdown on SIGTERM/SIGINT with requests in flight.
#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <poll.h>
#include <pwd.h>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "harness.hpp"

namespace authd_it {
namespace {

// Logins that keep the single hash worker busy for a while (tens of milliseconds each), so that
// 10 of them are still in the pool when SIGTERM comes; not so slow that the last ones outwait the
// hash queue's timeout on a loaded machine.
const hash_cost slow_hash{"32MiB", "3"};

class LifecycleTest : public authd_test {
  protected:
    // authd's arguments with another key file.
    std::vector<std::string> args_with_key(const std::string& key_file) const {
        auto args = authd_args{}.build(env_);
        for (std::size_t i = 0; i + 1 < args.size(); ++i) {
            if (args[i] == "--key-file") {
                args[i + 1] = key_file;
            }
        }
        return args;
    }

    // Runs authd to its end (it is expected to refuse to start).
    run_result run_authd(const std::vector<std::string>& args) const {
        std::vector<std::string> argv{authd_bin()};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_command(argv, {}, {}, 20s);
    }

    void expect_refused(const run_result& r, const std::string& key_file,
                        std::string_view reason) const {
        EXPECT_FALSE(r.timed_out) << "authd kept running with a bad key file";
        EXPECT_EQ(r.exit_code, 1) << r.err;
        EXPECT_NE(r.err.find("authd: key file " + key_file + ": "), std::string::npos) << r.err;
        EXPECT_NE(r.err.find(reason), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find(R"("event":"listening")"), std::string::npos) << r.err;
    }
};

std::string missing_password_request() {
    return make_request("GET", "/login", {"User-Name: someone"});
}

void expect_missing_password_answer(const response& r) {
    EXPECT_EQ(status_line(r), "HTTP/1.1 400 Bad Request");
    EXPECT_EQ(r.body(), error_body(402, "Required field < Password > is not specified."));
}

// A valid 200 for user (the login tests check tokens in depth).
void expect_login_ok(const response& r, std::string_view user) {
    EXPECT_EQ(status_line(r), "HTTP/1.1 200 OK") << r.body();
    const auto token = token_of(r.body());
    ASSERT_TRUE(token) << r.body();
    const auto parts = split_jwt(*token);
    ASSERT_TRUE(parts) << *token;
    const auto payload = parse_payload(parts->payload);
    ASSERT_TRUE(payload) << parts->payload;
    EXPECT_EQ(payload->user, user);
}

// --- shutdown --------------------------------------------------------------------------------

TEST_F(LifecycleTest, SigtermAnswersTheLoginsInFlightThenExits0) {
    env_.add_user("slow_user", "slow_password", slow_hash);
    // One hash worker for 10 slow logins: most of them are still queued or hashing at SIGTERM.
    // The harness's 60 s queue timeout: on a loaded machine the last of them may wait longer than
    // authd's 3 s; and 60 s to drain them, not 20.
    authd_args args = authd_args().workers("1").hash(slow_hash);
    args.shutdown_timeout = "60s";
    start(args);
    constexpr std::size_t in_flight = 10;
    std::vector<std::unique_ptr<http_client>> clients;
    std::vector<std::uint16_t> client_ports;
    for (std::size_t i = 0; i < in_flight; ++i) {
        clients.push_back(std::make_unique<http_client>(port()));
        client_ports.push_back(clients.back()->local_port());
    }
    const auto login = login_request("slow_user", "slow_password");
    for (auto& c : clients) {
        c->send(login);
    }
    // SIGTERM once authd has read all 10 requests (a request it has not read yet may be dropped
    // with its idle connection, which is fine, but not what this test is about).
    ASSERT_TRUE(wait_server_read(port(), client_ports, 10s))
        << "authd did not read the 10 requests within 10 s";
    std::size_t answered_before = 0;
    for (auto& c : clients) {
        pollfd p{c->fd(), POLLIN, 0};
        answered_before += ::poll(&p, 1, 0) > 0 ? 1 : 0;
    }
    server().signal(SIGTERM);
    for (std::size_t i = 0; i < in_flight; ++i) {
        SCOPED_TRACE("login " + std::to_string(i));
        const auto r = clients[i]->read_response();
        expect_login_ok(r, "slow_user");
        EXPECT_EQ(to_string(clients[i]->wait_close(15s)), std::string("eof"));
        clients[i]->close();
    }
    const auto status = server().wait_exit(60s);
    ASSERT_TRUE(status) << "authd did not exit after SIGTERM";
    EXPECT_EQ(*status, 0) << server().stderr_text();
    // authd said it was draining.
    EXPECT_TRUE(server().wait_for_stderr(R"("phase":"draining")", 1s)) << server().stderr_text();
    RecordProperty("answered_before_sigterm", static_cast<int>(answered_before));
    if (answered_before == in_flight) {
        std::cerr << "note: all 10 logins were answered before SIGTERM; the machine is fast or the "
                     "hash too cheap for this test to exercise the drain\n";
    }
}

TEST_F(LifecycleTest, SigtermClosesAnIdleKeepAliveConnectionAndExits0) {
    start();
    http_client idle(port());
    const auto r = idle.roundtrip(missing_password_request());
    expect_missing_password_answer(r);
    ASSERT_TRUE(r.keep_alive());

    server().signal(SIGTERM);
    // An orderly close (FIN), not a reset.
    EXPECT_EQ(to_string(idle.wait_close(15s)), std::string("eof"));
    idle.close();  // authd waits (a while) for the client's side of the close
    const auto status = server().wait_exit(15s);
    ASSERT_TRUE(status) << "authd did not exit after SIGTERM with an idle connection open";
    EXPECT_EQ(*status, 0);
}

TEST_F(LifecycleTest, SigintExits0) {
    start();
    {
        http_client client(port());
        expect_missing_password_answer(client.roundtrip(missing_password_request()));
    }
    server().signal(SIGINT);
    const auto status = server().wait_exit(15s);
    ASSERT_TRUE(status);
    EXPECT_EQ(*status, 0);
    EXPECT_TRUE(server().wait_for_stderr(R"("signal":"SIGINT")", 1s)) << server().stderr_text();
}

TEST_F(LifecycleTest, SigtermRightAfterListeningExits0) {
    // A supervisor may stop authd as soon as it says it listens: that is a graceful shutdown too
    // (exit status 0), not death by SIGTERM. Repeated, as the window is short.
    for (int i = 0; i < 10 && !HasFailure(); ++i) {
        SCOPED_TRACE("start " + std::to_string(i));
        server_ = std::make_unique<authd_process>(authd_args{}.build(env_));
        ASSERT_TRUE(server_->wait_listening(10s)) << server_->stderr_text();
        const auto status = stop_server();
        EXPECT_EQ(status, 0) << "after SIGTERM sent right after its \"listening\" line, authd "
                                "was killed by signal "
                             << server_->term_signal();
        server_.reset();
    }
}

TEST_F(LifecycleTest, StopsAcceptingAfterSigterm) {
    start();
    const auto p = port();
    {
        http_client client(p);
        expect_missing_password_answer(client.roundtrip(missing_password_request()));
    }
    EXPECT_EQ(stop_server(), 0);
    EXPECT_THROW(http_client{p}, std::runtime_error);
}

// --- clients that go away, clients that wait -------------------------------------------------

TEST_F(LifecycleTest, ClientDisconnectingMidLoginDoesNotDisturbTheServer) {
    env_.add_user("slow_user", "slow_password", costly_hash);
    start(authd_args().hash(costly_hash));
    const auto login = login_request("slow_user", "slow_password");
    for (int i = 0; i < 10; ++i) {
        http_client gone(port());
        gone.send(i % 3 == 2 ? login + login + login : login);  // sometimes pipelined
        gone.close(/*abort=*/i % 2 == 1);                       // a FIN, or a reset
    }
    // Half-closed: the client sends its request and shuts down its side at once.
    {
        http_client half(port());
        half.send(login);
        ::shutdown(half.fd(), SHUT_WR);
        // authd may answer or not; it must not hang the connection.
        if (auto r = half.try_read_response(15s)) {
            expect_login_ok(*r, "slow_user");
        }
    }
    http_client next(port());
    expect_login_ok(next.roundtrip(login), "slow_user");
    expect_login_ok(next.roundtrip(login), "slow_user");
    // A disconnect is not an error of the server's.
    for (const auto& line : server().stderr_lines()) {
        EXPECT_EQ(line.find(R"("level":"error")"), std::string::npos) << line;
    }
}

TEST_F(LifecycleTest, IdleTimeoutClosesIdleConnections) {
    start(authd_args().with({"--idle-timeout", "1s"}));
    // After a request...
    http_client used(port());
    expect_missing_password_answer(used.roundtrip(missing_password_request()));
    // ...and before any.
    http_client silent(port());
    EXPECT_EQ(to_string(used.wait_close(15s)), std::string("eof"));
    EXPECT_EQ(to_string(silent.wait_close(15s)), std::string("eof"));
    // The server itself is fine.
    http_client next(port());
    expect_missing_password_answer(next.roundtrip(missing_password_request()));
}

TEST_F(LifecycleTest, BusyConnectionOutlivesTheIdleTimeout) {
    // A connection that keeps sending requests is not closed by the idle timeout.
    start(authd_args().with({"--idle-timeout", "2s"}));
    http_client client(port());
    const auto until = std::chrono::steady_clock::now() + 5s;
    int answered = 0;
    while (std::chrono::steady_clock::now() < until) {
        expect_missing_password_answer(client.roundtrip(missing_password_request()));
        ++answered;
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_GT(answered, 0);
}

// --- parked connections --------------------------------------------------------------------
// A connection idle for a sweep or two is parked: no coroutine, no buffers (connection.hpp).

// authd_connections_parked from /metrics, read on a connection of its own that is closed at
// once (so that it is never parked itself).
long parked_connections(std::uint16_t port) {
    return metric_value(port, "authd_connections_parked");
}

// Waits until authd reports `want` parked connections; false after 10 s.
bool wait_parked(std::uint16_t port, long want) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < until) {
        if (parked_connections(port) == want) {
            return true;
        }
        std::this_thread::sleep_for(50ms);
    }
    return false;
}

TEST_F(LifecycleTest, ParkedConnectionServesItsNextRequests) {
    env_.add_user("user_test", "password_test");
    start();
    http_client client(port());
    expect_login_ok(client.roundtrip(login_request("user_test", "password_test")), "user_test");
    http_client silent(port());  // parked before its first request
    ASSERT_TRUE(wait_parked(port(), 2)) << "an idle keep-alive connection was not parked";
    // Woken by the next request: a login (the credentials of the first are gone, not reused)...
    expect_login_ok(client.roundtrip(login_request("user_test", "password_test")), "user_test");
    expect_missing_password_answer(client.roundtrip(missing_password_request()));
    expect_missing_password_answer(silent.roundtrip(missing_password_request()));
    // ...and parked again, then woken by two pipelined requests arriving in one segment.
    ASSERT_TRUE(wait_parked(port(), 2));
    client.send(missing_password_request() + login_request("user_test", "wrong"));
    expect_missing_password_answer(client.read_response());
    EXPECT_EQ(client.read_response().result_int(), 404);
    // A request split across the wake-up: the first bytes wake it, the rest come later.
    ASSERT_TRUE(wait_parked(port(), 2));
    const auto request = missing_password_request();
    client.send(request.substr(0, 10));
    std::this_thread::sleep_for(100ms);
    client.send(request.substr(10));
    expect_missing_password_answer(client.read_response());
}

// Parked only once idle for a whole sweep period (250 ms), never sooner: a client that pauses
// less between its requests keeps its connection hot (a park and a wake-up cost a few syscalls
// each). Each round reads the gauge after a pause of 100 ms, and counts only when everything from
// sending the request to the end of that read took under 240 ms: the connection cannot have been
// idle for longer on authd's clock, whatever the machine's load.
TEST_F(LifecycleTest, AConnectionIsParkedOnlyOnceIdleForAWholeSweepPeriod) {
    start();
    http_client client(port());
    int counted = 0;
    int parked_too_soon = 0;
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (counted < 20 && std::chrono::steady_clock::now() < until) {
        const auto sent = std::chrono::steady_clock::now();
        expect_missing_password_answer(client.roundtrip(missing_password_request()));
        std::this_thread::sleep_for(100ms);
        const long parked = parked_connections(port());
        if (std::chrono::steady_clock::now() - sent < 240ms) {
            ++counted;
            parked_too_soon += parked != 0 ? 1 : 0;
        }
    }
    if (counted < 5) {
        GTEST_SKIP() << "too slow here: " << counted << " rounds of under 240 ms in 20 s";
    }
    EXPECT_EQ(parked_too_soon, 0) << "of " << counted << " rounds";
}

TEST_F(LifecycleTest, ConnectionsPastTheHotIdleLimitAreParkedAtOnceAndServed) {
    // One I/O thread keeps at most 256 idle connections in a pending read; the others park as
    // soon as they are idle, before their first request here.
    auto args = authd_args();
    args.threads = "1";
    start(args);
    constexpr int count = 300;
    std::vector<std::unique_ptr<http_client>> clients;
    for (int i = 0; i < count; ++i) {
        clients.push_back(std::make_unique<http_client>(port()));
    }
    EXPECT_GE(parked_connections(port()), count - 256);
    for (int round = 0; round < 2; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        for (auto& c : clients) {
            c->send(missing_password_request());
        }
        for (auto& c : clients) {
            expect_missing_password_answer(c->read_response());
        }
        ASSERT_TRUE(wait_parked(port(), count));  // then all parked by the sweeper
    }
}

TEST_F(LifecycleTest, ParkedConnectionIsClosedByTheIdleTimeoutAndByTheClient) {
    // 8 s: the idle connection must still be open (parked) after both have parked and the other
    // has closed, each waited for on a sweep of 250 ms and read from /metrics on a slow machine.
    start(authd_args().with({"--idle-timeout", "8s"}));
    http_client idle(port());
    expect_missing_password_answer(idle.roundtrip(missing_password_request()));
    http_client leaving(port());
    expect_missing_password_answer(leaving.roundtrip(missing_password_request()));
    ASSERT_TRUE(wait_parked(port(), 2));
    leaving.close();  // the client's FIN wakes the parked connection, which closes its side
    ASSERT_TRUE(wait_parked(port(), 1));
    EXPECT_EQ(to_string(idle.wait_close(30s)), std::string("eof"));
    EXPECT_EQ(parked_connections(port()), 0);
}

TEST_F(LifecycleTest, SigtermClosesAParkedConnectionAndExits0) {
    start();
    http_client idle(port());
    expect_missing_password_answer(idle.roundtrip(missing_password_request()));
    ASSERT_TRUE(wait_parked(port(), 1));
    server().signal(SIGTERM);
    EXPECT_EQ(to_string(idle.wait_close(15s)), std::string("eof"));
    idle.close();
    const auto status = server().wait_exit(15s);
    ASSERT_TRUE(status) << "authd did not exit after SIGTERM with a parked connection open";
    EXPECT_EQ(*status, 0);
}

// --- hash helper processes --------------------------------------------------------------------
// Each hash worker runs argon2 in a helper process of its own (server/workers/hash_helper.hpp).

TEST_F(LifecycleTest, EachHashWorkerHasAHelperProcessWithoutEnvironment) {
    env_.add_user("user_test", "password_test");
    ::setenv("AUTHD_TEST_SECRET_MARKER", "must-not-reach-the-helper", 1);
    start();  // two hash workers
    ::unsetenv("AUTHD_TEST_SECRET_MARKER");
    http_client client(port());
    expect_login_ok(client.roundtrip(login_request("user_test", "password_test")), "user_test");
    const auto helpers = wait_children(server().pid(), 2);
    ASSERT_EQ(helpers.size(), 2U);
    for (const auto helper : helpers) {
        // Its log level is all it is told.
        EXPECT_EQ(proc_file(helper, "cmdline"), std::string("authd\0--hash-helper\0info\0", 25));
        EXPECT_EQ(proc_file(helper, "environ"), "");  // no AUTHD_* (a database URI, say)
    }
    const auto log = server().stderr_text();
    EXPECT_EQ(log.find("hash_helper_unavailable"), std::string::npos) << log;
}

// A helper holds its socket to the worker (descriptor 3) and its standard streams, nothing else
// of authd's: not the descriptors authd opened, nor those it inherited without close-on-exec (a
// service manager's, a shell's), here 4 to 6. The one descriptor a helper may open itself is
// libsodium's random device: where getrandom(2) is refused (a seccomp filter, an old kernel),
// sodium_init() opens /dev/urandom and keeps it (seen on a CI machine; `strace -f -e
// inject=getrandom:error=ENOSYS` on this test makes it here).
TEST_F(LifecycleTest, AHashHelperHoldsNoDescriptorButItsSocket) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "a helper is not dumpable: only root reads its /proc/PID/fd";
    }
    env_.add_user("user_test", "password_test");
    authd_process authd(authd_args{}.build(env_),
                        {"sh", "-c", "exec \"$0\" \"$@\" 4</dev/null 5</dev/null 6</dev/null"});
    const auto port = authd.wait_listening();
    ASSERT_TRUE(port) << authd.stderr_text();
    http_client client(*port);
    expect_login_ok(client.roundtrip(login_request("user_test", "password_test")), "user_test");
    ASSERT_TRUE(std::filesystem::exists("/proc/" + std::to_string(authd.pid()) + "/fd/6"))
        << "authd inherited descriptors 4 to 6";
    const auto helpers = wait_children(authd.pid(), 2);
    ASSERT_EQ(helpers.size(), 2U);
    for (const auto helper : helpers) {
        // (wait_children() lists a helper once its exec is done: before, it would hold what
        // posix_spawn's child had.)
        const std::string helper_cmdline("authd\0--hash-helper\0", 20);
        ASSERT_EQ(proc_file(helper, "cmdline").rfind(helper_cmdline, 0), 0U) << helper;
        std::vector<std::pair<int, std::string>> open;  // descriptor, what it names
        for (const auto& fd :
             std::filesystem::directory_iterator("/proc/" + std::to_string(helper) + "/fd")) {
            std::error_code error;
            const auto target = std::filesystem::read_symlink(fd.path(), error);
            open.emplace_back(std::stoi(fd.path().filename().string()), target.string());
        }
        std::sort(open.begin(), open.end());
        std::string listing;
        for (const auto& [fd, target] : open) {
            listing += std::to_string(fd) + " -> " + target + "\n";
        }
        std::vector<int> own;
        for (const auto& [fd, target] : open) {
            if (fd == 3) {
                EXPECT_EQ(target.rfind("socket:", 0), 0U) << listing;
            }
            if (fd > 3 && target != "/dev/urandom" && target != "/dev/random") {
                ADD_FAILURE() << "helper " << helper << " holds " << fd << " -> " << target;
            }
            if (fd <= 3) {
                own.push_back(fd);
            }
        }
        EXPECT_EQ(own, (std::vector<int>{0, 1, 2, 3})) << "helper " << helper << "\n" << listing;
    }
}

// authd's threads by nice value, from each one's /proc/PID/task/TID/stat.
std::map<long, int> threads_by_nice(pid_t pid) {
    std::map<long, int> out;
    for (const auto& task :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
        std::ifstream stat(task.path() / "stat");
        std::string line;
        std::getline(stat, line);
        std::istringstream fields(line.substr(line.rfind(')') + 2));
        std::string field;
        for (int i = 3; i < 19; ++i) {  // state (field 3) to priority (18)
            fields >> field;
        }
        long value = 0;
        fields >> value;  // nice (19)
        ++out[value];
    }
    return out;
}

// The hash workers run at --hash-nice (10 by default), so that the I/O threads keep the CPU; no
// other thread of authd's is niced. (Each worker sets its own as it starts: waited for.)
TEST_F(LifecycleTest, HashWorkersRunAtTheirNiceValue) {
    env_.add_user("user_test", "password_test");
    for (const std::string nice : {"1", "10", "0"}) {
        SCOPED_TRACE("--hash-nice " + nice);
        authd_process authd(authd_args{}.with({"--hash-nice", nice}).build(env_));
        const auto port = authd.wait_listening();
        ASSERT_TRUE(port) << authd.stderr_text();
        http_client client(*port);
        expect_login_ok(client.roundtrip(login_request("user_test", "password_test")), "user_test");
        const long expected = std::stol(nice);
        auto threads = threads_by_nice(authd.pid());
        for (int i = 0; i < 100 && expected != 0 && threads[expected] != 2; ++i) {
            std::this_thread::sleep_for(20ms);
            threads = threads_by_nice(authd.pid());
        }
        if (expected == 0) {
            EXPECT_EQ(threads.size(), 1U) << "a thread is niced";
        } else {
            EXPECT_EQ(threads[expected], 2) << "the two hash workers";
            EXPECT_EQ(threads.size(), 2U) << "another thread is niced";
        }
    }
}

TEST_F(LifecycleTest, KilledHashHelperIsReplacedAndLoginsGoOn) {
    env_.add_user("user_test", "password_test");
    start(authd_args().workers("1"));
    http_client client(port());
    expect_login_ok(client.roundtrip(login_request("user_test", "password_test")), "user_test");
    const auto before = wait_children(server().pid(), 1);
    ASSERT_EQ(before.size(), 1U);
    ASSERT_EQ(::kill(before[0], SIGKILL), 0);
    ASSERT_TRUE(process_gone(before[0], 5s));
    // The worker notices at its next verification, starts a new helper and retries: the login
    // succeeds, and a wrong password is still a wrong password (not an error).
    expect_login_ok(client.roundtrip(login_request("user_test", "password_test")), "user_test");
    EXPECT_EQ(client.roundtrip(login_request("user_test", "wrong")).result_int(), 404);
    const auto after = wait_children(server().pid(), 1);
    ASSERT_EQ(after.size(), 1U);
    EXPECT_NE(after[0], before[0]);
}

// authd killed outright while a helper verifies a slow hash: the helper ends with it at once
// (its parent's death signal), not when the verification is done and its answer finds no reader.
TEST_F(LifecycleTest, AHashHelperEndsAtOnceWhenAuthdIsKilledMidHash) {
    env_.add_user("slow", "password", hash_cost{"80MiB", "100"});  // seconds a verification
    authd_process authd(authd_args().workers("1").build(env_));    // not stopped in order
    const auto port = authd.wait_listening();
    ASSERT_TRUE(port) << authd.stderr_text();
    const auto helpers = wait_children(authd.pid(), 1);
    ASSERT_EQ(helpers.size(), 1U);
    http_client client(*port);
    client.send(login_request("slow", "password"));
    // The helper computes once its CPU time grows (the login reached it).
    const auto cpu = [&] {
        const auto stat = proc_file(helpers[0], "stat");
        std::istringstream fields(stat.substr(stat.rfind(')') + 2));
        std::string field;
        for (int i = 3; i <= 14 && fields >> field; ++i) {
        }
        return std::stol(field);  // utime, in ticks
    };
    const auto idle = cpu();
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (cpu() < idle + 10 && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(20ms);
    }
    ASSERT_GE(cpu(), idle + 10) << "the helper never started verifying";
    authd.signal(SIGKILL);
    EXPECT_TRUE(process_gone(helpers[0], 1s)) << "the helper outlived authd";
}

TEST_F(LifecycleTest, HashHelpersEndWithAuthd) {
    start();
    const auto helpers = wait_children(server().pid(), 2);
    ASSERT_EQ(helpers.size(), 2U);
    EXPECT_EQ(stop_server(), 0);
    for (const auto helper : helpers) {
        EXPECT_TRUE(process_gone(helper, 5s)) << "helper " << helper << " outlived authd";
    }
}

// Neither authd nor its helpers can be read by another process of their user (/proc/PID/mem,
// ptrace: the signing key, passwords) or leave a core dump: they are not dumpable, and the kernel
// then gives their /proc files to root. authd runs as nobody here: root's processes' files are
// root's anyway.
TEST_F(LifecycleTest, AuthdAndItsHashHelpersAreNotDumpable) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "running authd as another user needs root";
    }
    const passwd* nobody = ::getpwnam("nobody");
    ASSERT_NE(nobody, nullptr);
    env_.add_user("user_test", "password_test");
    ASSERT_EQ(::chown(env_.dir().path().c_str(), nobody->pw_uid, nobody->pw_gid), 0);
    for (const auto& entry : std::filesystem::directory_iterator(env_.dir().path())) {
        ASSERT_EQ(::chown(entry.path().c_str(), nobody->pw_uid, nobody->pw_gid), 0);
    }
    authd_process authd(authd_args{}.build(env_),
                        {"setpriv", "--reuid=" + std::to_string(nobody->pw_uid),
                         "--regid=" + std::to_string(nobody->pw_gid), "--clear-groups", "--"});
    const auto port = authd.wait_listening();
    ASSERT_TRUE(port) << authd.stderr_text();
    http_client client(*port);
    expect_login_ok(client.roundtrip(login_request("user_test", "password_test")), "user_test");
    auto processes = wait_children(authd.pid(), 2);
    ASSERT_EQ(processes.size(), 2U);
    processes.push_back(authd.pid());
    for (const auto pid : processes) {
        EXPECT_NE(proc_file(pid, "status").find("Uid:\t" + std::to_string(nobody->pw_uid)),
                  std::string::npos)
            << pid << " runs as nobody";
        // A helper just started may not have reached its main() yet (execve() made it dumpable
        // until then, before it holds anything): give it time, not forever.
        const auto mem = "/proc/" + std::to_string(pid) + "/mem";
        const auto until = std::chrono::steady_clock::now() + 10s;
        struct stat st {};
        while (::stat(mem.c_str(), &st) == 0 && st.st_uid != 0 &&
               std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(20ms);
        }
        EXPECT_EQ(st.st_uid, 0U) << pid << " is dumpable: its user can read its memory";
    }
}

// --- refusing to start -----------------------------------------------------------------------

TEST_F(LifecycleTest, RefusesToStartWithoutKeyFile) {
    const auto key = env_.dir().file("no-such.key");
    expect_refused(run_authd(args_with_key(key)), key, "does not exist");
}

TEST_F(LifecycleTest, RefusesToStartWithShortKey) {
    const auto key = env_.dir().file("short.key");
    {
        std::ofstream out(key, std::ios::binary);
        out << std::string(31, 'k');
    }
    ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
    expect_refused(run_authd(args_with_key(key)), key, "32");
    // An empty one too.
    const auto empty_key = env_.dir().file("empty.key");
    { std::ofstream out(empty_key, std::ios::binary); }
    ASSERT_EQ(::chmod(empty_key.c_str(), 0600), 0);
    expect_refused(run_authd(args_with_key(empty_key)), empty_key, "32");
}

TEST_F(LifecycleTest, RefusesToStartWithKeyReadableByOthers) {
    for (const mode_t mode : {0644, 0640, 0604, 0660}) {
        SCOPED_TRACE("mode " + std::to_string(mode));
        const auto key = env_.dir().file("shared-" + std::to_string(mode) + ".key");
        test_env::generate_key(key);
        ASSERT_EQ(::chmod(key.c_str(), mode), 0);
        expect_refused(run_authd(args_with_key(key)), key, "group or others");
    }
}

TEST_F(LifecycleTest, StartsWithAGoodKeyFile) {
    // The counterpart of the refusals: the same arguments with env_'s 0600 key start authd.
    start();
    http_client client(port());
    expect_missing_password_answer(client.roundtrip(missing_password_request()));
}

TEST_F(LifecycleTest, BadUsageExits2) {
    const std::vector<std::vector<std::string>> cases{
        {"--no-such-option"},
        {"--key-file", env_.key_file(), "--no-such-option", "1"},
        {"--listen", "127.0.0.1:0", "--store", env_.store_uri()},  // --key-file is required
        {"--key-file", env_.key_file(), "--token-ttl", "forever"},
        {"--key-file", env_.key_file(), "--threads", "many"},
    };
    for (const auto& args : cases) {
        std::string joined;
        for (const auto& a : args) {
            joined += a + " ";
        }
        SCOPED_TRACE(joined);
        const auto r = run_authd(args);
        EXPECT_FALSE(r.timed_out);
        EXPECT_EQ(r.exit_code, 2) << r.err;
        EXPECT_NE(r.err.find("authd: "), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find(R"("event":"listening")"), std::string::npos) << r.err;
    }
    const auto unknown = run_authd({"--no-such-option"});
    EXPECT_NE(unknown.err.find("no-such-option"), std::string::npos) << unknown.err;
}

TEST_F(LifecycleTest, HelpListsTheOptionsAndExits0) {
    const auto r = run_authd({"--help"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    for (const char* option : {"--listen", "--store", "--key-file", "--threads", "--hash-workers",
                               "--hash-queue", "--hash-memory", "--hash-ops", "--token-ttl",
                               "--idle-timeout", "--request-timeout", "--shutdown-timeout"}) {
        EXPECT_NE(r.out.find(option), std::string::npos) << option << " missing from:\n" << r.out;
    }
}

}  // namespace
}  // namespace authd_it
