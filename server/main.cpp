// authd: the login server's command line (docs/configuration.md).
#include <csignal>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <sys/resource.h>

#include <boost/program_options.hpp>

#include "authd/login_service.hpp"
#include "authd/password_hasher.hpp"

#include "config.hpp"
#include "log.hpp"
#include "server.hpp"

namespace po = boost::program_options;
using authd::server::server_config;

namespace {

constexpr int exit_usage = 2;
constexpr int exit_startup = 1;

std::chrono::seconds seconds(const std::string& name, const std::string& text) {
    try {
        return authd::parse_duration(text);
    } catch (const std::invalid_argument& e) {
        throw po::error("--" + name + ": " + e.what());
    }
}

// Durations are taken as text ("30m") and converted after parsing.
struct duration_texts {
    std::string ttl = "30m", idle = "60s", request = "10s", write = "10s", shutdown = "30s",
                queue_timeout = "3s", account_max = "15m", account_forgive = "60s",
                address_max = "5m", address_forgive = "10s";
};

po::options_description describe(duration_texts& t, std::string& memory, std::string& log_level,
                                 server_config& c) {
    po::options_description d("authd: a high-throughput login server (docs/api.md)\n\nOptions");
    // clang-format off
    d.add_options()
        ("help,h", "print this help and exit")
        ("listen", po::value(&c.listen)->default_value(c.listen),
            "address to listen on, HOST:PORT or [IPv6]:PORT (port 0 picks a free one)")
        ("store", po::value(&c.store)->default_value(c.store),
            "user store: sqlite:PATH")
        ("key-file", po::value(&c.key_file)->required(),
            "file holding the token signing key (at least 32 bytes, mode 0600; "
            "make one with: authctl key generate PATH)")
        ("tls-cert", po::value(&c.tls_cert),
            "serve HTTPS with this PEM certificate chain (TLS 1.2 and 1.3 only)")
        ("tls-key", po::value(&c.tls_key),
            "the PEM private key of --tls-cert (mode 0600)")
        ("threads", po::value(&c.io_threads)->default_value(0),
            "I/O threads; 0: one per core")
        ("hash-workers", po::value(&c.hash_workers)->default_value(0),
            "password hashing threads; 0: one per core")
        ("hash-queue", po::value(&c.hash_queue)->default_value(0),
            "logins waiting for a hash worker before new ones get 503; 0: 64 per worker")
        ("hash-queue-per-client", po::value(&c.hash_queue_per_client)->default_value(0),
            "logins one client address may have waiting; 0: a quarter of --hash-queue (at least 8)")
        ("hash-queue-timeout", po::value(&t.queue_timeout)->default_value(t.queue_timeout),
            "a login still waiting for a hash worker after this long gets 503 without hashing")
        ("hash-nice", po::value(&c.hash_nice)->default_value(c.hash_nice),
            "nice value added to hash workers (0-19), so I/O threads keep the CPU")
        ("hash-memory", po::value(&memory)->default_value("19MiB"),
            "argon2id memory cost of new hashes (OWASP minimum: 19MiB)")
        ("hash-ops", po::value(&c.argon2.ops)->default_value(c.argon2.ops),
            "argon2id iterations of new hashes (OWASP minimum: 2)")
        ("token-ttl", po::value(&t.ttl)->default_value(t.ttl),
            "token lifetime: N, Ns, Nm, Nh or Nd")
        ("cache-entries", po::value(&c.cache_entries)->default_value(c.cache_entries),
            "user records kept in memory")
        ("idle-timeout", po::value(&t.idle)->default_value(t.idle),
            "close a keep-alive connection after this long without a request")
        ("request-timeout", po::value(&t.request)->default_value(t.request),
            "close a connection that takes longer than this to send one request")
        ("write-timeout", po::value(&t.write)->default_value(t.write),
            "close a connection that takes longer than this to read one response")
        ("shutdown-timeout", po::value(&t.shutdown)->default_value(t.shutdown),
            "on SIGTERM, how long requests in flight may take before authd exits anyway")
        ("max-header-bytes", po::value(&c.limits.header_bytes)->default_value(c.limits.header_bytes),
            "largest request line plus headers (431 past it)")
        ("max-body-bytes", po::value(&c.limits.body_bytes)->default_value(c.limits.body_bytes),
            "largest request body, which is ignored (413 past it)")
        ("max-target-bytes", po::value(&c.limits.target_bytes)->default_value(c.limits.target_bytes),
            "longest request-target (431 past it)")
        ("max-field-bytes", po::value(&c.limits.field_bytes)->default_value(c.limits.field_bytes),
            "longest header value (431 past it)")
        ("max-fields", po::value(&c.limits.fields)->default_value(c.limits.fields),
            "most headers in one request (431 past it)")
        ("max-connections", po::value(&c.max_connections)->default_value(c.max_connections),
            "connections open at once; more are answered 503 and closed")
        ("max-requests-per-connection",
            po::value(&c.max_requests_per_connection)->default_value(c.max_requests_per_connection),
            "requests on one keep-alive connection before it is closed")
        ("account-free-failures",
            po::value(&c.attempts.account.free_failures)->default_value(c.attempts.account.free_failures),
            "failed logins of one account before attempts must wait; 0: no per-account limit")
        ("account-max-backoff", po::value(&t.account_max)->default_value(t.account_max),
            "longest wait imposed on one account")
        ("account-forgive", po::value(&t.account_forgive)->default_value(t.account_forgive),
            "one failed login of an account is forgotten per this interval")
        ("address-free-failures",
            po::value(&c.attempts.address.free_failures)->default_value(c.attempts.address.free_failures),
            "failed logins from one address (IPv6: /64) before attempts must wait; 0: no limit")
        ("address-max-backoff", po::value(&t.address_max)->default_value(t.address_max),
            "longest wait imposed on one address")
        ("address-forgive", po::value(&t.address_forgive)->default_value(t.address_forgive),
            "one failed login of an address is forgotten per this interval")
        ("attempt-entries", po::value(&c.attempts.max_entries)->default_value(c.attempts.max_entries),
            "accounts and addresses whose failures are remembered (each)")
        ("log-level", po::value(&log_level)->default_value("info"),
            "debug, info, warn or error");
    // clang-format on
    return d;
}

authd::server::log_level parse_level(const std::string& text) {
    using authd::server::log_level;
    if (text == "debug") {
        return log_level::debug;
    }
    if (text == "info") {
        return log_level::info;
    }
    if (text == "warn") {
        return log_level::warn;
    }
    if (text == "error") {
        return log_level::error;
    }
    throw po::error("--log-level: expected debug, info, warn or error, got '" + text + "'");
}

// Parses argv into config; nullopt after --help.
std::optional<server_config> parse_command_line(int argc, char** argv) {
    server_config c;
    duration_texts t;
    std::string memory, level;
    const auto options = describe(t, memory, level, c);
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, options), vm);
    if (vm.count("help") != 0) {
        std::cout << options << '\n';
        return std::nullopt;
    }
    po::notify(vm);
    c.token_ttl = seconds("token-ttl", t.ttl);
    c.idle_timeout = seconds("idle-timeout", t.idle);
    c.request_timeout = seconds("request-timeout", t.request);
    c.write_timeout = seconds("write-timeout", t.write);
    c.shutdown_timeout = seconds("shutdown-timeout", t.shutdown);
    c.hash_queue_timeout = seconds("hash-queue-timeout", t.queue_timeout);
    c.attempts.account.max_backoff = seconds("account-max-backoff", t.account_max);
    c.attempts.account.forgive_every = seconds("account-forgive", t.account_forgive);
    c.attempts.address.max_backoff = seconds("address-max-backoff", t.address_max);
    c.attempts.address.forgive_every = seconds("address-forgive", t.address_forgive);
    if (c.tls_cert.empty() != c.tls_key.empty()) {
        throw po::error("--tls-cert and --tls-key go together");
    }
    if (c.max_connections == 0 || c.max_requests_per_connection == 0) {
        throw po::error("--max-connections and --max-requests-per-connection must be positive");
    }
    try {
        c.argon2.memory_bytes = authd::parse_size(memory);
    } catch (const std::invalid_argument& e) {
        throw po::error(std::string("--hash-memory: ") + e.what());
    }
    if (c.hash_nice < 0 || c.hash_nice > 19) {
        throw po::error("--hash-nice: expected 0 to 19");
    }
    authd::server::set_log_level(parse_level(level));
    return c;
}

// Each connection is a file descriptor: allow as many as the hard limit permits (as nginx's
// worker_rlimit_nofile does), so that --max-connections, not a default of 1024, is the bound.
void raise_file_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    raise_file_limit();
    std::optional<server_config> config;
    try {
        config = parse_command_line(argc, argv);
        if (!config) {
            return 0;
        }
    } catch (const std::exception& e) {
        std::cerr << "authd: " << e.what() << "\nTry 'authd --help'.\n";
        return exit_usage;
    }
    try {
        return authd::server::run(*config);
    } catch (const std::exception& e) {
        std::cerr << "authd: " << e.what() << '\n';
        return exit_startup;
    }
}
