// authd: the login server's command line (docs/configuration.md).
#include <csignal>
#include <exception>
#include <iostream>
#include <optional>
#include <string>

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

std::chrono::milliseconds millis(const std::string& name, const std::string& text) {
    try {
        return authd::parse_duration(text);
    } catch (const std::invalid_argument& e) {
        throw po::error("--" + name + ": " + e.what());
    }
}

po::options_description describe(std::string& ttl, std::string& memory, std::string& idle,
                                 std::string& request, std::string& write, std::string& shutdown,
                                 std::string& log_level, server_config& c) {
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
        ("threads", po::value(&c.io_threads)->default_value(0),
            "I/O threads; 0: one per core")
        ("hash-workers", po::value(&c.hash_workers)->default_value(0),
            "password hashing threads; 0: one per core")
        ("hash-queue", po::value(&c.hash_queue)->default_value(0),
            "logins waiting for a hash worker before new ones get 503; 0: 64 per worker")
        ("hash-nice", po::value(&c.hash_nice)->default_value(c.hash_nice),
            "nice value added to hash workers (0-19), so I/O threads keep the CPU")
        ("hash-memory", po::value(&memory)->default_value("19MiB"),
            "argon2id memory cost of new hashes (OWASP minimum: 19MiB)")
        ("hash-ops", po::value(&c.argon2.ops)->default_value(c.argon2.ops),
            "argon2id iterations of new hashes (OWASP minimum: 2)")
        ("token-ttl", po::value(&ttl)->default_value("30m"),
            "token lifetime: N, Ns, Nm, Nh or Nd")
        ("cache-entries", po::value(&c.cache_entries)->default_value(c.cache_entries),
            "user records kept in memory")
        ("idle-timeout", po::value(&idle)->default_value("60s"),
            "close a keep-alive connection after this long without a request")
        ("request-timeout", po::value(&request)->default_value("10s"),
            "close a connection that takes longer than this to send one request")
        ("write-timeout", po::value(&write)->default_value("10s"),
            "close a connection that takes longer than this to read one response")
        ("shutdown-timeout", po::value(&shutdown)->default_value("30s"),
            "on SIGTERM, how long requests in flight may take before authd exits anyway")
        ("max-header-bytes", po::value(&c.limits.header_bytes)->default_value(c.limits.header_bytes),
            "largest request line plus headers (431 past it)")
        ("max-body-bytes", po::value(&c.limits.body_bytes)->default_value(c.limits.body_bytes),
            "largest request body, which is ignored (413 past it)")
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
    std::string ttl, memory, idle, request, write, shutdown, level;
    const auto options = describe(ttl, memory, idle, request, write, shutdown, level, c);
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, options), vm);
    if (vm.count("help") != 0) {
        std::cout << options << '\n';
        return std::nullopt;
    }
    po::notify(vm);
    c.token_ttl = authd::parse_duration(ttl);
    c.idle_timeout = millis("idle-timeout", idle);
    c.request_timeout = millis("request-timeout", request);
    c.write_timeout = millis("write-timeout", write);
    c.shutdown_timeout = millis("shutdown-timeout", shutdown);
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

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
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
