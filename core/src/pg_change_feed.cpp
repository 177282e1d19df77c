// The PostgreSQL change feed (pg_change_feed.hpp).
//
// Cache coherence across authd nodes rests on this thread, so it must notice when it stops
// hearing from the server: a closed connection shows at once, a silent one (the server's host
// vanished, the network dropped the connection) is caught by a heartbeat query. Either way the
// feed reconnects with backoff and then tells the listener all_changed(): notifications sent while
// it was away are lost for good. Not before: while PostgreSQL is down, cached users must still
// log in.
#include "pg_change_feed.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <poll.h>
#include <string>
#include <sys/eventfd.h>
#include <unistd.h>
#include <utility>

namespace authd::detail {

namespace {

// A connection silent this long is sent a SELECT 1...
constexpr std::chrono::seconds heartbeat_interval{2};
// ...and given up for lost when the answer takes longer than this.
constexpr std::chrono::seconds heartbeat_timeout{2};

constexpr pg_statement listen_statement{nullptr, "LISTEN authd_users", 0,
                                        "cannot listen for changes"};

struct notify_freer {
    void operator()(PGnotify* notify) const noexcept { PQfreemem(notify); }
};

pg_conn connect_and_listen(const pg_target& target) {
    auto conn = pg_connect(target);
    pg_run(target, conn.get(), listen_statement, {}, PGRES_COMMAND_OK);
    return conn;
}

}  // namespace

pg_change_feed::pg_change_feed(const pg_target& target, change_listener* listener,
                               std::function<void()> reconnected)
    : target_(target), listener_(listener), reconnected_(std::move(reconnected)) {
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) {
        target_.fail(std::string("cannot create an eventfd: ") + std::strerror(errno));
    }
    try {
        conn_ = connect_and_listen(target_);
    } catch (const store_error&) {
        // Not reachable right now: the thread keeps trying.
    }
    try {
        thread_ = std::thread([this] { run(); });
    } catch (...) {
        ::close(wake_fd_);
        throw;
    }
}

pg_change_feed::~pg_change_feed() {
    stopping_ = true;
    const std::uint64_t one = 1;
    // Cannot fail short of a bug: the counter is far from overflowing.
    (void)!::write(wake_fd_, &one, sizeof one);
    thread_.join();
    ::close(wake_fd_);
}

void pg_change_feed::set_listener(change_listener* listener) {
    const std::lock_guard lock(listener_mutex_);
    listener_ = listener;
}

void pg_change_feed::run() noexcept {
    pg_backoff backoff;
    while (!stopping_) {
        if (!conn_) {
            bool readable = false;
            if (!wait(-1, pg_clock::now() + backoff.next(), readable)) {
                return;
            }
            if (!reconnect()) {
                continue;
            }
            backoff.reset();
        }
        try {
            serve();
        } catch (...) {
            // Lost (or the listener failed): reconnect, which drops everything cached.
        }
        conn_.reset();
    }
}

bool pg_change_feed::reconnect() noexcept {
    try {
        conn_ = connect_and_listen(target_);
        if (reconnected_) {
            reconnected_();
        }
        all_changed();
        return true;
    } catch (...) {
        conn_.reset();
        return false;
    }
}

// Passes notifications on until the connection is lost (throws) or the feed stops (returns).
void pg_change_feed::serve() {
    bool heartbeat_pending = false;
    auto heard = pg_clock::now();  // when the server last sent anything
    auto asked = heard;            // when the pending heartbeat was sent
    while (!stopping_) {
        const auto deadline =
            heartbeat_pending ? asked + heartbeat_timeout : heard + heartbeat_interval;
        bool readable = false;
        if (!wait(PQsocket(conn_.get()), deadline, readable)) {
            return;
        }
        if (readable) {
            heard = pg_clock::now();
            read_input(heartbeat_pending);
        } else if (pg_clock::now() >= deadline) {
            if (heartbeat_pending) {
                target_.unavailable("change feed: no answer to a heartbeat");
            }
            if (PQsendQuery(conn_.get(), "SELECT 1") != 1) {
                target_.unavailable("change feed: cannot send a heartbeat");
            }
            heartbeat_pending = true;
            asked = pg_clock::now();
        }
    }
}

void pg_change_feed::read_input(bool& heartbeat_pending) {
    if (PQconsumeInput(conn_.get()) != 1 || PQstatus(conn_.get()) != CONNECTION_OK) {
        target_.unavailable("change feed: connection lost");
    }
    while (heartbeat_pending && PQisBusy(conn_.get()) == 0) {
        const pg_result result(PQgetResult(conn_.get()));
        if (!result) {
            heartbeat_pending = false;  // the heartbeat's results are all in
        } else if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
            target_.unavailable("change feed: heartbeat failed");
        }
    }
    dispatch_notifications();
}

void pg_change_feed::dispatch_notifications() {
    for (;;) {
        const std::unique_ptr<PGnotify, notify_freer> notify(PQnotifies(conn_.get()));
        if (!notify) {
            return;
        }
        user_changed(notify->extra != nullptr ? notify->extra : "");
    }
}

void pg_change_feed::user_changed(std::string_view name) {
    const std::lock_guard lock(listener_mutex_);
    if (listener_ == nullptr) {
        return;
    }
    if (name.empty()) {
        listener_->all_changed();
        return;
    }
    try {
        listener_->user_changed(name);
    } catch (...) {
        listener_->all_changed();  // could not drop one record (no memory?): drop them all
    }
}

void pg_change_feed::all_changed() {
    const std::lock_guard lock(listener_mutex_);
    if (listener_ != nullptr) {
        listener_->all_changed();
    }
}

bool pg_change_feed::wait(int fd, pg_clock::time_point deadline, bool& readable) const {
    std::array<pollfd, 2> fds{{{wake_fd_, POLLIN, 0}, {fd, POLLIN, 0}}};
    const nfds_t count = fd >= 0 ? 2 : 1;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - pg_clock::now());
    const int ready =
        ::poll(fds.data(), count, static_cast<int>(std::max<long long>(0, left.count())));
    readable = ready > 0 && count == 2 && fds[1].revents != 0;
    return !stopping_;  // an EINTR (ready < 0) is just an early wake-up
}

}  // namespace authd::detail
