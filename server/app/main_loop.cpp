#include "app/main_loop.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <malloc.h>

#include "authd/crypto/keyring.hpp"
#include "authd/login/attempt_limiter.hpp"
#include "authd/util/clock.hpp"

#include "base/log.hpp"

namespace authd::server {

namespace {

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
}  // namespace

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

}  // namespace authd::server
