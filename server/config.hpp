// The settings of one authd process: a plain struct with the defaults in the declaration, filled
// by parse_command_line() (main.cpp). docs/configuration.md lists them.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "authd/crypto/password_hasher.hpp"
#include "authd/http/request.hpp"
#include "authd/login/attempt_limiter.hpp"

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
};

}  // namespace authd::server
