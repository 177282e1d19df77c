// The PostgreSQL store's connection pool, private to core/: pooled libpq connections, and whether
// the server is reachable (fail fast while it is not).
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "authd/store/store_errors.hpp"

#include "pg_connection.hpp"

namespace authd::detail {

// The pooled connections, and whether the server is reachable. After a failed connection attempt
// the server counts as down: until the backoff has passed, every call that needs a new connection
// fails at once (503) instead of waiting for its own attempt, and then a single caller tries
// again (the probe) while the others still fail at once. So a dead server costs one attempt per
// backoff period, not a queue of hash workers each waiting for connect_timeout.
class connection_pool {
  public:
    // open: a new connection, its statements prepared.
    explicit connection_pool(std::function<pg_conn()> open) : open_(std::move(open)) {}

    // A pooled connection (reused = true) unless fresh, or a new one.
    pg_conn acquire(bool fresh, bool& reused) {
        bool probe = false;
        {
            const std::lock_guard lock(mutex_);
            if (!fresh && !idle_.empty()) {
                auto conn = std::move(idle_.back());
                idle_.pop_back();
                reused = true;
                return conn;
            }
            if (down_) {
                const auto now = pg_clock::now();
                if (probing_) {
                    throw store_unavailable(down_reason_ + "; reconnecting");
                }
                if (now < retry_at_) {
                    throw store_unavailable(down_reason_ + "; next attempt in " +
                                            std::to_string(wait_ms(now)) + " ms");
                }
                probing_ = probe = true;
            }
        }
        reused = false;
        return connect(probe);
    }

    // Takes back a connection after a call. One that is broken or mid-statement is closed; a lost
    // one means the server went away or restarted, so the idle ones are dropped too.
    void release(pg_conn conn) noexcept {
        if (!conn) {
            return;
        }
        if (pg_idle(conn.get())) {
            try {
                const std::lock_guard lock(mutex_);
                idle_.push_back(std::move(conn));
            } catch (...) {
                // No memory to pool it: closing it is as good.
            }
            return;
        }
        if (PQstatus(conn.get()) != CONNECTION_OK) {
            drop_idle();
        }
    }

    // Pools a connection opened elsewhere (the one that migrated the schema).
    void add(pg_conn conn) {
        const std::lock_guard lock(mutex_);
        idle_.push_back(std::move(conn));
    }

    // Someone else reached the server (the change feed): no need to wait for the backoff.
    void reachable() noexcept {
        const std::lock_guard lock(mutex_);
        down_ = false;
        backoff_.reset();
    }

    // The server is connected but not answering (or answers "not now"): fail fast for a while.
    void mark_down(const std::string& reason) noexcept {
        try {
            const std::lock_guard lock(mutex_);
            if (!down_) {
                set_down(reason);
            }
        } catch (...) {
            // No memory for the reason: the next call finds out by itself.
        }
        drop_idle();
    }

  private:
    pg_conn connect(bool probe) {
        try {
            auto conn = open_();
            const std::lock_guard lock(mutex_);
            end_probe(probe);
            down_ = false;
            backoff_.reset();
            return conn;
        } catch (const store_unavailable& e) {
            const std::lock_guard lock(mutex_);
            end_probe(probe);
            // Only the first failure, or the probe's, moves the next attempt further away.
            if (probe || !down_) {
                set_down(e.what());
            }
            throw;
        } catch (...) {
            const std::lock_guard lock(mutex_);
            end_probe(probe);
            throw;
        }
    }

    // With mutex_ held.
    void end_probe(bool probe) noexcept {
        if (probe) {
            probing_ = false;
        }
    }

    // With mutex_ held.
    void set_down(const std::string& reason) {
        down_ = true;
        retry_at_ = pg_clock::now() + backoff_.next();
        down_reason_ = reason;
    }

    long long wait_ms(pg_clock::time_point now) const {
        if (now >= retry_at_) {
            return 0;
        }
        return std::chrono::ceil<std::chrono::milliseconds>(retry_at_ - now).count();
    }

    void drop_idle() noexcept {
        std::vector<pg_conn> dropped;
        {
            const std::lock_guard lock(mutex_);
            dropped.swap(idle_);
        }
        // Closed here, outside the lock.
    }

    std::function<pg_conn()> open_;
    std::mutex mutex_;
    // Guarded by mutex_:
    std::vector<pg_conn> idle_;
    bool down_ = false;
    bool probing_ = false;
    pg_clock::time_point retry_at_;
    pg_backoff backoff_;
    std::string down_reason_;
};

// A connection held by one thread for one store call.
class pool_lease {
  public:
    pool_lease(connection_pool& pool, bool fresh)
        : pool_(pool), conn_(pool.acquire(fresh, reused_)) {}
    ~pool_lease() { pool_.release(std::move(conn_)); }
    pool_lease(const pool_lease&) = delete;
    pool_lease& operator=(const pool_lease&) = delete;

    PGconn* get() const noexcept { return conn_.get(); }
    // Whether it came from the pool (and so may have died while idle).
    bool reused() const noexcept { return reused_; }

  private:
    connection_pool& pool_;
    bool reused_ = false;
    pg_conn conn_;
};

}  // namespace authd::detail
