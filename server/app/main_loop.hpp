// The main thread's part once authd serves: signals (SIGHUP reloads the keys, SIGINT and SIGTERM
// stop), the periodic upkeep handed to the worker pool, the purge of expired revocations, and the
// drain of the I/O threads at the end.
#pragma once

#include <condition_variable>
#include <csignal>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "authd/crypto/keyring_holder.hpp"
#include "authd/login/revocation_list.hpp"
#include "authd/store/revocation_store.hpp"

#include "app/config.hpp"
#include "net/io_thread.hpp"
#include "workers/worker_pool.hpp"

namespace authd::server {

// Waits for SIGINT or SIGTERM (blocked in every thread, taken here synchronously) and returns
// it, meanwhile reloading the keys on SIGHUP, asking the pool for its upkeep twice a second and
// purging expired revocations every minute.
int wait_for_signals(const sigset_t& handled, const server_config& config, keyring_holder& keys,
                     revocation_store& store, revocation_list& revocations, worker_pool& pool);

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

// Drains the I/O threads, and ends them after the shutdown timeout.
void shut_down(const server_config& config, int signal, std::vector<std::unique_ptr<io_thread>>& io,
               std::vector<std::thread>& threads, running_threads& running);

}  // namespace authd::server
