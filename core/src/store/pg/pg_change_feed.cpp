// The PostgreSQL change feed (pg_change_feed.hpp).
//
// Cache coherence across authd nodes rests on this thread, so it must notice when it stops
// hearing from the server: a closed connection shows at once, a silent one (the server's host
// vanished, the network dropped the connection) is caught by a heartbeat query. Either way the
// feed reconnects with backoff and then tells the listener all_changed(): notifications sent while
// it was away are lost for good. Not before: while PostgreSQL is down, cached users must still
// log in. Revocations and token cutoffs are not a cache that may be dropped: once listening again,
// the feed reads every one that still matters from its table, which holds all those whose
// notification it missed.
#include "pg_change_feed.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <poll.h>
#include <string>
#include <sys/eventfd.h>
#include <unistd.h>
#include <utility>

#include "pg_limit_store.hpp"

namespace authd::detail {

namespace {

// A connection silent this long is sent a SELECT 1...
constexpr std::chrono::seconds heartbeat_interval{2};
// ...and given up for lost when the answer takes longer than this.
constexpr std::chrono::seconds heartbeat_timeout{2};

constexpr pg_statement listen_statement{
    nullptr,
    "LISTEN authd_users; LISTEN authd_revocations; LISTEN authd_token_cutoffs; LISTEN "
    "authd_known_addresses",
    0, "cannot listen for changes"};

struct notify_freer {
    void operator()(PGnotify* notify) const noexcept { PQfreemem(notify); }
};

pg_conn connect_and_listen(const pg_target& target) {
    auto conn = pg_connect(target);
    pg_run(target, conn.get(), listen_statement, {}, PGRES_COMMAND_OK);
    return conn;
}

bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

bool is_base64url(char c) noexcept {
    return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-' || c == '_';
}

// "<digits> <rest>": the number and the rest, or nullopt.
std::optional<std::pair<std::int64_t, std::string_view>> split_number(
    std::string_view payload) noexcept {
    const auto space = payload.find(' ');
    if (space == std::string_view::npos) {
        return std::nullopt;
    }
    const auto digits = payload.substr(0, space);
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), is_digit)) {
        return std::nullopt;
    }
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || end != digits.data() + digits.size()) {
        return std::nullopt;  // out of range
    }
    return std::pair{value, payload.substr(space + 1)};
}

}  // namespace

std::optional<pg_revocation> parse_revocation(std::string_view payload) noexcept {
    const auto parts = split_number(payload);
    if (!parts || parts->second.empty() ||
        !std::all_of(parts->second.begin(), parts->second.end(), is_base64url)) {
        return std::nullopt;
    }
    return pg_revocation{parts->first, parts->second};
}

std::optional<pg_cutoff> parse_cutoff(std::string_view payload) noexcept {
    const auto parts = split_number(payload);
    if (!parts || parts->second.empty()) {
        return std::nullopt;
    }
    return pg_cutoff{parts->first, parts->second};
}

pg_change_feed::pg_change_feed(const pg_target& target, change_listener* listener,
                               std::function<void()> reconnected, pg_revocation_source revocations,
                               pg_cutoff_source cutoffs, pg_known_source known)
    : target_(target),
      listener_(listener),
      reconnected_(std::move(reconnected)),
      revocations_(std::move(revocations)),
      cutoffs_(std::move(cutoffs)),
      known_(std::move(known)) {
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) {
        target_.fail(std::string("cannot create an eventfd: ") + std::strerror(errno));
    }
    try {
        conn_ = connect_and_listen(target_);
        // Whatever the listener read before (authd loads the revocations and cutoffs at start)
        // may lack those made until now, when the feed listens.
        resync();
    } catch (...) {
        // Not reachable right now (or the revocations could not be read): the thread keeps
        // trying, and reads them once it listens.
        conn_.reset();
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
        // Not listened to is not heard: until the revocations and cutoffs are read again, the feed
        // counts as disconnected, and tries again after its backoff.
        resync();
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
        const std::string_view channel = notify->relname != nullptr ? notify->relname : "";
        const std::string_view payload = notify->extra != nullptr ? notify->extra : "";
        if (channel == pg_revocations_channel) {
            token_revoked(payload);
        } else if (channel == pg_cutoffs_channel) {
            tokens_cut(payload);
        } else if (channel == pg_known_addresses_channel) {
            known_address(payload);
        } else {
            user_changed(payload);
        }
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

// A listener that throws (no memory?) ends serve(): the feed reconnects and reads every
// revocation again, rather than miss one.
void pg_change_feed::token_revoked(std::string_view payload) {
    if (payload.empty()) {
        resync_revocations();  // a jti too long for a payload
        return;
    }
    const auto revocation = parse_revocation(payload);
    if (!revocation) {
        return;  // not the trigger's (anyone may NOTIFY on the channel): ignored
    }
    const std::lock_guard lock(listener_mutex_);
    if (listener_ != nullptr) {
        listener_->token_revoked(revocation->jti, revocation->exp);
    }
}

void pg_change_feed::tokens_cut(std::string_view payload) {
    if (payload.empty()) {
        resync_cutoffs();  // a name too long for a payload
        return;
    }
    const auto cutoff = parse_cutoff(payload);
    if (!cutoff) {
        return;  // not the trigger's: ignored
    }
    const std::lock_guard lock(listener_mutex_);
    if (listener_ != nullptr) {
        listener_->tokens_cut(cutoff->name, cutoff->not_before);
    }
}

void pg_change_feed::known_address(std::string_view payload) {
    const auto known = parse_known_address(payload);
    if (!known) {
        return;  // not the trigger's: ignored
    }
    const std::lock_guard lock(listener_mutex_);
    if (listener_ != nullptr) {
        listener_->known_address(known->account, known->address, 0);
    }
}

void pg_change_feed::resync() {
    resync_revocations();
    resync_cutoffs();
    if (known_) {
        // The known addresses only spare this node a refusal its view would make wrongly (the
        // store decides): a store that cannot list them (a runtime role without the grant)
        // must not stop the feed.
        std::vector<known_address_entry> rows;
        try {
            rows = known_();  // outside the lock
        } catch (const store_error&) {
            return;
        }
        const std::lock_guard lock(listener_mutex_);
        if (listener_ != nullptr) {
            for (const auto& k : rows) {
                listener_->known_address(k.account, k.address, k.age_seconds);
            }
        }
    }
}

void pg_change_feed::resync_revocations() {
    resync_from(revocations_, &change_listener::token_revoked);
}

void pg_change_feed::resync_cutoffs() {
    resync_from(cutoffs_, &change_listener::tokens_cut);
}

void pg_change_feed::resync_from(const pg_revocation_source& source,
                                 void (change_listener::*pass)(std::string_view, std::int64_t)) {
    if (!source) {
        return;
    }
    const auto rows = source();  // outside the lock: it may take a while
    const std::lock_guard lock(listener_mutex_);
    if (listener_ == nullptr) {
        return;
    }
    for (const auto& [text, number] : rows) {
        (listener_->*pass)(text, number);
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
