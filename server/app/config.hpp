// The settings of one authd process: a plain struct with every default in the declaration (and
// the defaults of core's own structs), filled by parse_config() from the command line, the
// environment and a config file. docs/configuration.md lists them.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "authd/crypto/password_hasher.hpp"
#include "authd/http/request_parser.hpp"
#include "authd/login/attempt_limiter.hpp"

#include "base/log.hpp"
#include "net/connection_options.hpp"

namespace authd::server {

struct server_config {
    std::string listen = "127.0.0.1:8080";
    std::string store = "sqlite:authd.db";
    std::string key_file;
    std::string tls_cert;                   // PEM certificate chain; empty: plain HTTP
    std::string tls_key;                    // PEM private key (mode 0600)
    std::size_t io_threads = 0;             // 0: one per core
    std::size_t hash_workers = 0;           // 0: one per core
    std::size_t hash_queue = 0;             // 0: 64 per hash worker
    std::size_t hash_queue_per_client = 0;  // 0: a quarter of hash_queue, at least 8
    std::chrono::milliseconds hash_queue_timeout{3'000};  // queued longer: 503 without hashing
    std::chrono::milliseconds hash_call_timeout{10'000};  // a helper call longer: killed, 503
    int hash_nice = 10;  // added to the hash workers' nice value (0..19): I/O threads first
    argon2_params argon2;
    std::chrono::seconds token_ttl{30 * 60};
    std::size_t cache_entries = 100'000;
    request_limits limits;
    limiter_config attempts;                            // brute-force limits
    std::size_t max_connections = 10'000;               // open at once; more are answered 503
    std::size_t max_connections_per_address = 1'000;    // one address (IPv6: /64); 0: no limit
    std::size_t max_requests_per_connection = 1'000;    // then Connection: close
    std::chrono::milliseconds idle_timeout{60'000};     // keep-alive: waiting for a new request
    std::chrono::milliseconds request_timeout{10'000};  // reading one request once it started
    std::chrono::milliseconds write_timeout{10'000};    // writing one response
    std::chrono::milliseconds shutdown_timeout{30'000};
    log_level log = log_level::info;
};

// A command line, environment or config file that authd cannot use (exit 2).
class usage_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// The environment variable of an option: AUTHD_ and its name in capitals, '-' written '_'.
std::string env_name(std::string_view option);

// Where the value of each setting came from, to name it in messages as the operator wrote it.
class setting_origins {
  public:
    enum class source { command_line, environment, file };

    // The first source recorded for an option wins, as in po::store().
    void record(const std::string& option, source from, std::size_t line = 0) {
        where_.try_emplace(option, place{from, line});
    }
    void set_file(std::string path) { file_ = std::move(path); }

    // "--name", "AUTHD_NAME" or "PATH line N: name"; "--name" for a default.
    std::string name(const std::string& option) const;

  private:
    struct place {
        source from;
        std::size_t line;
    };
    std::map<std::string, place, std::less<>> where_;
    std::string file_;
};

// Parses the command line, the environment (AUTHD_...) and the --config file, in that precedence,
// over server_config's defaults. After --help: prints the help to `help`, returns nullopt. Throws
// usage_error (or Program_options' errors) naming the bad setting as the operator wrote it.
std::optional<server_config> parse_config(int argc, char** argv, setting_origins& from,
                                          std::ostream& help);

// What the settings allow each connection (server/net's own struct).
connection_options connection_settings(const server_config& config);

// A start-up message that names an option ("--listen: ..."), spelled as the operator set it.
std::string respell(const setting_origins& from, const std::string& message);

}  // namespace authd::server
