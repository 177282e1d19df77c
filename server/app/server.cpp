#include "app/server.hpp"

#include <algorithm>
#include <csignal>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "authd/crypto/keyring.hpp"
#include "authd/crypto/keyring_holder.hpp"
#include "authd/crypto/password_hasher.hpp"
#include "authd/login/attempt_limiter.hpp"
#include "authd/login/login_service.hpp"
#include "authd/login/revocation_list.hpp"
#include "authd/login/user_cache.hpp"
#include "authd/store/store_backend.hpp"
#include "authd/util/clock.hpp"

#include "app/listen_address.hpp"
#include "app/main_loop.hpp"
#include "app/metrics.hpp"
#include "app/tls.hpp"
#include "base/log.hpp"
#include "net/io_thread.hpp"
#include "workers/hash_helper.hpp"
#include "workers/worker_pool.hpp"

namespace authd::server {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

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
    // Each worker hashes in a helper process of its own, started in the worker's thread. While
    // none can be started, it hashes in its thread (the helper says so in the log at the first
    // login).
    pool_options.make_runner = [call_timeout = config.hash_call_timeout] {
        auto helper = std::make_unique<hash_helper>(call_timeout);
        static_cast<void>(helper->start());
        return std::unique_ptr<hash_runner>(std::move(helper));
    };
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
