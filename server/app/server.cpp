#include "app/server.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <ctime>
#include <fcntl.h>
#include <malloc.h>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <sys/stat.h>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <openssl/ssl.h>

#include "authd/crypto/keyring.hpp"
#include "authd/crypto/keyring_holder.hpp"
#include "authd/crypto/password_hasher.hpp"
#include "authd/crypto/secret.hpp"
#include "authd/login/attempt_limiter.hpp"
#include "authd/login/login_service.hpp"
#include "authd/login/revocation_list.hpp"
#include "authd/login/user_cache.hpp"
#include "authd/store/store_backend.hpp"
#include "authd/util/clock.hpp"
#include "authd/util/files.hpp"

#include "app/metrics.hpp"
#include "base/log.hpp"
#include "net/io_thread.hpp"
#include "workers/worker_pool.hpp"

namespace authd::server {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

tcp::endpoint parse_endpoint(const std::string& text) {
    // "HOST:PORT" or "[IPv6]:PORT"
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
        throw std::invalid_argument("--listen: expected HOST:PORT, got '" + text + "'");
    }
    auto host = text.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(host, ec);
    if (ec) {
        throw std::invalid_argument("--listen: '" + host + "' is not an IP address");
    }
    unsigned long port = 0;
    try {
        std::size_t used = 0;
        port = std::stoul(text.substr(colon + 1), &used);
        if (used != text.size() - colon - 1 || port > 65535) {
            throw std::out_of_range("port");
        }
    } catch (const std::logic_error&) {
        throw std::invalid_argument("--listen: '" + text.substr(colon + 1) + "' is not a port");
    }
    return {address, static_cast<unsigned short>(port)};
}

std::string to_string(const tcp::endpoint& e) {
    const auto address = e.address().to_string();
    return (e.address().is_v6() ? "[" + address + "]" : address) + ":" + std::to_string(e.port());
}

// The bytes of a TLS certificate or key file (what: "TLS key file"), read here rather than by
// OpenSSL, which would block on a FIFO at the path: a regular file (symbolic links followed:
// certbot's live/ files are links), at most 1 MiB, private to its owner when it must be.
secret_bytes read_tls_file(const std::string& path, const char* what, bool must_be_private) {
    const auto fail = [&](const std::string& why) {
        return std::runtime_error(std::string(what) + " " + path + ": " + why);
    };
    const fd_guard file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
    if (file.fd < 0) {
        throw fail(errno == ENOENT ? "does not exist" : errno_text("cannot be read"));
    }
    struct stat st {};
    if (::fstat(file.fd, &st) != 0) {
        throw fail(errno_text("cannot be read"));
    }
    if (!S_ISREG(st.st_mode)) {
        throw fail("is not a regular file");
    }
    if (must_be_private && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        throw fail("is accessible by group or others (run: chmod 600 " + path + ")");
    }
    constexpr std::size_t max_bytes = std::size_t{1} << 20;
    secret_bytes bytes;
    if (!read_secret_bytes(file.fd, max_bytes, bytes)) {
        throw fail(errno_text("cannot be read"));
    }
    if (bytes.size() > max_bytes) {
        throw fail("is longer than 1 MiB");
    }
    return bytes;
}

// TLS 1.2+ with forward-secret AEAD suites only (Mozilla's "intermediate" profile); TLS 1.3 uses
// OpenSSL's defaults, which are all AEAD.
std::unique_ptr<asio::ssl::context> make_tls_context(const server_config& config) {
    if (config.tls_cert.empty()) {
        return nullptr;
    }
    const auto key = read_tls_file(config.tls_key, "TLS key file", true);
    const auto chain = read_tls_file(config.tls_cert, "TLS certificate", false);
    auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    SSL_CTX* native = ctx->native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    SSL_CTX_set_options(
        native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_cipher_list(native,
                            "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                            "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                            "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
    boost::system::error_code ec;
    ctx->use_certificate_chain(asio::buffer(chain.data(), chain.size()), ec);
    if (ec) {
        throw std::runtime_error("TLS certificate " + config.tls_cert + ": " + ec.message());
    }
    ctx->use_private_key(asio::buffer(key.data(), key.size()), asio::ssl::context::pem, ec);
    if (ec) {
        throw std::runtime_error("TLS key file " + config.tls_key + ": " + ec.message());
    }
    if (SSL_CTX_check_private_key(native) != 1) {
        throw std::runtime_error("TLS key file " + config.tls_key +
                                 ": does not match the certificate " + config.tls_cert);
    }
    return ctx;
}

std::size_t cores() {
    return std::max(1U, std::thread::hardware_concurrency());
}

// Revocations outlive no token: at most this many unexpired ones are kept (about 100 bytes each).
constexpr std::size_t max_revocations = 1'000'000;

// What the store pushes (PostgreSQL's notifications, SQLite's file events): user changes to the
// login service's cache, other nodes' revocations to this node's list, token cutoffs to the login
// service's, store events to the log.
class store_events final : public change_listener {
  public:
    store_events(login_service& service, revocation_list& revocations, attempt_limiter& limiter)
        : service_(service), revocations_(revocations), limiter_(limiter) {}
    void user_changed(std::string_view name) override { service_.user_changed(name); }
    void all_changed() override { service_.all_changed(); }
    void token_revoked(std::string_view jti, std::int64_t exp) override {
        revocations_.add(jti, exp, unix_now());
    }
    void store_event(std::string_view event, std::string_view detail) override {
        log(log_level::error, event, {{"detail", detail}});
    }
    void tokens_cut(std::string_view name, std::int64_t not_before) override {
        service_.tokens_cut(name, not_before);
    }
    void known_address(const account_digest& account, std::uint64_t address,
                       double age_seconds) override {
        limiter_.learn_known_address(account, address, age_seconds, attempt_limiter::clock::now());
    }

  private:
    login_service& service_;
    revocation_list& revocations_;
    attempt_limiter& limiter_;
};

// The brute-force counters: in the store's limit store when it has one (PostgreSQL: shared by
// every node; SQLite: a file beside the store), which tells of its outages through the log.
std::unique_ptr<attempt_limiter> make_limiter(const limiter_config& config, store_backend& store) {
    auto limiter = std::make_unique<attempt_limiter>(config, store.limits());
    limiter->set_event_sink([](std::string_view event, std::string_view detail) {
        // Losing the store is an error; its return is worth a line, not an alert.
        log(event == "limits_store_answers" ? log_level::warn : log_level::error, event,
            {{"detail", detail}});
    });
    if (limiter->has_store()) {
        try {
            limiter->load_known_addresses(attempt_limiter::clock::now());
        } catch (const store_error& e) {
            // A runtime role without the known_addresses grant (docs/operations.md): the store
            // still decides; this node's view learns them as they come.
            log(log_level::warn, "known_addresses_unreadable", {{"detail", e.what()}});
        }
        log(log_level::info, "limits_store",
            {{"shared", limiter->sharing() ? "true" : "false"},
             {"known_addresses", std::to_string(limiter->known_address_entries())}});
    }
    return limiter;
}

// A token verifies until exp + the clock leeway: its revocation is kept (and read) as long.
void load_revocations(revocation_store& store, revocation_list& revocations) {
    const auto now = unix_now();
    for (const auto& [jti, exp] : store.revoked_tokens(now - token_clock_leeway_seconds)) {
        revocations.add(jti, exp, now);
    }
}

// Expired revocations are dropped from memory and from the store (on the main thread: the store
// call may block, and no I/O thread waits for it).
void purge_revocations(revocation_store& store, revocation_list& revocations) {
    const auto now = unix_now();
    revocations.purge(now);
    // Give back to the system what a burst of connections left in malloc's free lists (RSS
    // otherwise stays at its peak; bench/load measures it).
    ::malloc_trim(0);
    try {
        store.purge_revoked_tokens(now - token_clock_leeway_seconds);
    } catch (const std::exception& e) {
        log(log_level::warn, "revocation_purge_failed", {{"error", e.what()}});
    }
}

// SIGHUP: reload the key file. A file that does not load leaves the keys in use as they were.
void reload_keys(const server_config& config, keyring_holder& keys) {
    try {
        keys.replace(keyring::load(config.key_file));
        std::string ids;
        for (const auto& k : keys.current()->keys()) {
            ids += (ids.empty() ? "" : ",") + (k.kid.empty() ? std::string("raw") : k.kid) +
                   (k.signs ? "*" : "");
        }
        log(log_level::info, "keys_reloaded", {{"keys", ids}});
    } catch (const std::exception& e) {
        log(log_level::error, "keys_reload_failed", {{"error", e.what()}});
    }
}

// How often a hash worker runs the periodic store check (login_service::check_store): so that a
// node where nobody logs in still learns within a second of what authctl changed in a SQLite
// store (token cutoffs). It costs a PRAGMA data_version when nothing changed.
constexpr std::chrono::milliseconds store_check_interval{500};
constexpr std::chrono::seconds revocation_purge_interval{60};

// The main thread's loop: SIGHUP reloads the keys, every store_check_interval a store check goes
// to the hash pool, every minute expired revocations are purged, SIGINT or SIGTERM returns (then
// the I/O threads drain). The signals are blocked in every thread and taken here synchronously
// (sigtimedwait): no asynchronous handler runs, so no thread can be interrupted at a bad moment,
// and ThreadSanitizer (which defers asynchronous signals) was seen to stall a SIGTERM otherwise.
int wait_for_signals(const sigset_t& handled, const server_config& config, keyring_holder& keys,
                     revocation_store& store, revocation_list& revocations, worker_pool& pool) {
    using steady = std::chrono::steady_clock;
    auto next_check = steady::now() + store_check_interval;
    auto next_purge = steady::now() + revocation_purge_interval;
    for (;;) {
        const auto left = std::max(next_check - steady::now(), steady::duration::zero());
        const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(left);
        const timespec wait{
            static_cast<time_t>(seconds.count()),
            static_cast<long>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(left - seconds).count())};
        const int signal = ::sigtimedwait(&handled, nullptr, &wait);
        if (signal == SIGHUP) {
            reload_keys(config, keys);
        } else if (signal == SIGINT || signal == SIGTERM) {
            return signal;
        }
        const auto now = steady::now();
        if (now >= next_check) {
            pool.request_upkeep();
            next_check = now + store_check_interval;
        }
        if (now >= next_purge) {
            purge_revocations(store, revocations);
            next_purge = now + revocation_purge_interval;
        }
    }
}

// How many I/O threads still run their event loop.
struct running_threads {
    std::mutex mutex;
    std::condition_variable changed;
    std::size_t count = 0;

    void one_ended() {
        {
            const std::lock_guard lock(mutex);
            --count;
        }
        changed.notify_all();
    }
};

// Drains the I/O threads, and ends them after the shutdown timeout. (No thread is started here:
// shutting down must not need a resource that may have run out.)
void shut_down(const server_config& config, int signal, std::vector<std::unique_ptr<io_thread>>& io,
               std::vector<std::thread>& threads, running_threads& running) {
    log(log_level::info, "shutdown",
        {{"signal", signal == SIGINT ? "SIGINT" : "SIGTERM"}, {"phase", "draining"}});
    for (auto& t : io) {
        t->drain();
    }
    // The threads end by themselves once their connections are done; past the timeout they are
    // stopped, dropping what is left.
    {
        std::unique_lock lock(running.mutex);
        if (!running.changed.wait_for(lock, config.shutdown_timeout,
                                      [&] { return running.count == 0; })) {
            log(log_level::warn, "shutdown_timeout");
            for (auto& t : io) {
                t->stop();
            }
        }
    }
    for (auto& t : threads) {
        t.join();
    }
}

}  // namespace

int run(const server_config& config) {
    // SIGINT, SIGTERM and SIGHUP are blocked from the start, in this thread and so in every thread
    // started below; wait_for_signals() takes them. One that arrives as soon as authd says it
    // listens waits for it: it drains authd, it does not kill it.
    sigset_t handled;
    sigemptyset(&handled);
    for (const int s : {SIGINT, SIGTERM, SIGHUP}) {
        sigaddset(&handled, s);
    }
    pthread_sigmask(SIG_BLOCK, &handled, nullptr);
    keyring_holder keys(keyring::load(config.key_file));
    const auto tls = make_tls_context(config);
    auto store = open_store(config.store);
    if (const auto warning = store->access_warning(); !warning.empty()) {
        log(log_level::warn, "store_not_private", {{"detail", warning}});
    }
    const password_hasher hasher(config.argon2);
    auto cache = make_user_cache(config.cache_entries);
    const auto limiter_owner = make_limiter(config.attempts, *store);
    auto& limiter = *limiter_owner;
    login_service service(*store, *cache, hasher, keys, config.token_ttl, &limiter);
    revocation_list revocations(max_revocations);
    load_revocations(store->revocations(), revocations);
    service.load_token_cutoffs();
    store_events events(service, revocations, limiter);
    store->set_change_listener(&events);
    struct unregister {
        store_backend& store;
        ~unregister() { store.set_change_listener(nullptr); }
    } const listener_guard{*store};

    worker_pool::options pool_options;
    pool_options.workers = config.hash_workers != 0 ? config.hash_workers : cores();
    pool_options.queue_capacity =
        config.hash_queue != 0 ? config.hash_queue : 64 * pool_options.workers;
    pool_options.per_client_capacity =
        config.hash_queue_per_client != 0
            ? config.hash_queue_per_client
            : std::max<std::size_t>(8, pool_options.queue_capacity / 4);
    pool_options.queue_timeout = config.hash_queue_timeout;
    pool_options.nice = config.hash_nice;
    // The upkeep a worker runs twice a second (wait_for_signals): the store check and the
    // limits' merge and prune (both block on the store).
    worker_pool pool(pool_options, [&service, &limiter] {
        service.check_store();
        limiter.maintain(attempt_limiter::clock::now());
    });
    const auto workers = pool_options.workers;

    // The first thread binds the configured address (port 0 picks a free port); the others bind
    // the same endpoint with SO_REUSEPORT.
    const auto io_count = config.io_threads != 0 ? config.io_threads : cores();
    metrics_registry metrics(pool, service, limiter);
    address_connections per_address(config.max_connections_per_address);
    const auto options = connection_settings(config);
    const shared_state shared{options,
                              pool,
                              {service, keys, revocations},
                              [&metrics] { return metrics.render(); },
                              per_address,
                              (config.max_connections + io_count - 1) / io_count,
                              tls.get()};
    std::vector<std::unique_ptr<io_thread>> io;
    io.push_back(
        std::make_unique<io_thread>(shared, metrics.add_thread(), parse_endpoint(config.listen)));
    const auto bound = io.front()->local_endpoint();
    for (std::size_t i = 1; i < io_count; ++i) {
        io.push_back(std::make_unique<io_thread>(shared, metrics.add_thread(), bound));
    }
    log(log_level::info, "listening",
        {{"address", to_string(bound)},
         {"io_threads", std::to_string(io_count)},
         {"hash_workers", std::to_string(workers)},
         {"store", config.store.substr(0, config.store.find(':'))},
         {"tls", tls ? "on" : "off"}});

    std::vector<std::thread> threads;
    running_threads running;
    running.count = io.size();
    threads.reserve(io.size());
    for (auto& t : io) {
        threads.emplace_back([&t, &running] {
            t->run();
            running.one_ended();
        });
    }
    const int signal =
        wait_for_signals(handled, config, keys, store->revocations(), revocations, pool);
    shut_down(config, signal, io, threads, running);
    pool.stop();
    log(log_level::info, "shutdown", {{"phase", "done"}});
    return 0;
}

}  // namespace authd::server
