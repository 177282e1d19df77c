// authd's options: every setting with its default and its help (docs/configuration.md has one
// row per option, and a test checks it).
#include <csignal>
#include <cstring>
#include <string>
#include <string_view>

#include <boost/program_options.hpp>

#include "app/config_parts.hpp"
#include "base/log.hpp"

namespace authd::server::config_parts {

// Every option, with its default. docs/configuration.md has one row per option (a test checks it).
po::options_description describe(settings& s) {
    auto& c = s.config;
    auto& t = s.durations;
    po::options_description d("authd: a high-throughput login server (docs/api.md)\n\nOptions");
    // clang-format off
    d.add_options()
        ("help,h", "print this help and exit")
        ("config", po::value(&s.config_file),
            "read settings from this file, one NAME = VALUE per line (NAME: an option below "
            "without '--'); the command line and the environment win over it")
        ("listen", po::value(&c.listen)->default_value(c.listen),
            "address to listen on, HOST:PORT or [IPv6]:PORT (port 0 picks a free one)")
        ("store", po::value(&c.store)->default_value(c.store),
            "user store: sqlite:PATH or postgresql://... (a libpq URI; keep its password in a "
            "passfile, not in the URI)")
        ("key-file", po::value(&c.key_file)->required(),
            "file holding the token signing key (at least 32 bytes, mode 0600; "
            "make one with: authctl key generate PATH)")
        ("tls-cert", po::value(&c.tls_cert),
            "serve HTTPS with this PEM certificate chain (TLS 1.2 and 1.3 only)")
        ("tls-key", po::value(&c.tls_key),
            "the PEM private key of --tls-cert (mode 0600)")
        ("threads", po::value(&c.io_threads)->default_value(c.io_threads),
            "I/O threads; 0: one per core")
        ("hash-workers", po::value(&c.hash_workers)->default_value(c.hash_workers),
            "password hashing threads; 0: one per core")
        ("hash-queue", po::value(&c.hash_queue)->default_value(c.hash_queue),
            "logins waiting for a hash worker before new ones get 503; 0: 64 per worker")
        ("hash-queue-per-client", po::value(&c.hash_queue_per_client)->default_value(c.hash_queue_per_client),
            "logins one client address may have waiting; 0: a quarter of --hash-queue (at least 8)")
        ("hash-queue-timeout", po::value(&t.queue_timeout)->default_value(t.queue_timeout),
            "a login still waiting for a hash worker after this long gets 503 without hashing")
        ("hash-call-timeout", po::value(&t.call_timeout)->default_value(t.call_timeout),
            "a hash helper that takes longer over one login (hung, stopped) is killed and replaced, and the login gets 503")
        ("hash-nice", po::value(&c.hash_nice)->default_value(c.hash_nice),
            "nice value added to hash workers (0-19), so I/O threads keep the CPU")
        ("hash-memory", po::value(&s.memory)->default_value(s.memory),
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
        ("max-connections-per-address",
            po::value(&c.max_connections_per_address)->default_value(c.max_connections_per_address),
            "connections one address (IPv6: /64) may have open at once; more are answered 503; 0: no limit")
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
        ("known-address-window", po::value(&t.known_window)->default_value(t.known_window),
            "an address the account logged in from within this window has a budget of its own "
            "for that account (failures elsewhere never make it wait); 0: off, else at least 2h")
        ("log-level", po::value(&s.log_level)->default_value(s.log_level),
            "debug, info, warn or error");
    // clang-format on
    return d;
}

const std::string_view help_epilogue =
    R"(Every option but --help is also an environment variable: AUTHD_ and the name in capitals
with '-' written '_' (AUTHD_TOKEN_TTL=10m). Every option but --help and --config is also a line
of the --config file (token-ttl = 10m). Precedence: command line > environment > config file >
defaults. Unknown AUTHD_ variables and unknown names in the file are errors; variables starting
with AUTHD_TEST_ are ignored. Exit status: 0 after SIGTERM or SIGINT; 1 authd could not start
(store, key, address); 2 a bad setting. Every setting: docs/configuration.md.)";

}  // namespace authd::server::config_parts
