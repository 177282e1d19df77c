// The PostgreSQL store's change feed, private to core/: a thread with a connection of its own that
// LISTENs for the names the users table's trigger NOTIFYs, for the tokens the revoked_tokens
// table's trigger NOTIFYs, for the cutoffs the token_cutoffs table's trigger NOTIFYs and for the
// addresses the known_addresses table's trigger NOTIFYs, and passes them to a change_listener.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "authd/store/limit_store.hpp"
#include "authd/store/user_store.hpp"

#include "pg_connection.hpp"

namespace authd::detail {

// The channel the users table's trigger notifies, with the changed user's name as payload (''
// when the name is too long for a payload: drop everything).
inline constexpr const char* pg_users_channel = "authd_users";
// The channel the revoked_tokens table's trigger notifies, with "<exp> <jti>" as payload ('' when
// the jti is too long for a payload: read every revocation again).
inline constexpr const char* pg_revocations_channel = "authd_revocations";
// The channel the token_cutoffs table's trigger notifies, with "<not_before> <name>" as payload
// ('' when the name is too long for a payload: read every cutoff again).
inline constexpr const char* pg_cutoffs_channel = "authd_token_cutoffs";

// A revocation's notification payload: "<exp> <jti>", exp decimal digits, jti base64url (at least
// one character of A-Z a-z 0-9 - _). nullopt for anything else, '' included.
struct pg_revocation {
    std::int64_t exp;
    std::string_view jti;
};
std::optional<pg_revocation> parse_revocation(std::string_view payload) noexcept;

// A token cutoff's notification payload: "<not_before> <name>", not_before decimal digits, the
// name the rest (not empty; it may hold spaces). nullopt for anything else, '' included.
struct pg_cutoff {
    std::int64_t not_before;
    std::string_view name;
};
std::optional<pg_cutoff> parse_cutoff(std::string_view payload) noexcept;

// Every unexpired revocation, as (jti, exp): the store's revoked_tokens(now).
using pg_revocation_source = std::function<std::vector<std::pair<std::string, std::int64_t>>()>;
// Every token cutoff that may still void a token, as (name, not_before): token_cutoffs(since).
using pg_cutoff_source = pg_revocation_source;
// Every address known to an account (the limit store's list).
using pg_known_source = std::function<std::vector<known_address_entry>()>;

class pg_change_feed {
  public:
    // Starts the feed for listener (not nullptr). Listens before returning when the server can be
    // reached, so that no change made after this returns is missed; otherwise the thread keeps
    // trying, and says all_changed() once it listens. After every reconnection, reconnected() is
    // called first. Revocations cannot be dropped wholesale as cached users are: each time the
    // feed starts to listen (here, and after every reconnection), it reads every unexpired one
    // from revocations() and passes each to token_revoked(), so that none made while it did not
    // listen is missed. Token cutoffs the same, from cutoffs() to tokens_cut(). target must
    // outlive the feed.
    pg_change_feed(const pg_target& target, change_listener* listener,
                   std::function<void()> reconnected, pg_revocation_source revocations,
                   pg_cutoff_source cutoffs, pg_known_source known = {});
    // Stops the thread (at once: it waits on an eventfd besides the socket).
    ~pg_change_feed();
    pg_change_feed(const pg_change_feed&) = delete;
    pg_change_feed& operator=(const pg_change_feed&) = delete;

    // Replaces the listener; nullptr drops notifications. When this returns, the old listener is
    // not being called and will not be.
    void set_listener(change_listener* listener);

  private:
    void run() noexcept;
    bool reconnect() noexcept;
    void serve();
    void read_input(bool& heartbeat_pending);
    void dispatch_notifications();
    void user_changed(std::string_view name);
    void all_changed();
    void token_revoked(std::string_view payload);
    void tokens_cut(std::string_view payload);
    void known_address(std::string_view payload);
    // Reads every revocation and passes each on. Throws when they cannot be read.
    void resync_revocations();
    // The same for the token cutoffs.
    void resync_cutoffs();
    void resync();  // both
    // Passes each row of source to the listener's pass.
    void resync_from(const pg_revocation_source& source,
                     void (change_listener::*pass)(std::string_view, std::int64_t));
    // Waits on the eventfd (and fd, when not -1) up to deadline. False when told to stop.
    bool wait(int fd, pg_clock::time_point deadline, bool& readable) const;

    const pg_target& target_;
    pg_conn conn_;  // the thread's, once it runs
    int wake_fd_ = -1;
    std::atomic<bool> stopping_{false};
    std::mutex listener_mutex_;  // held while calling the listener
    change_listener* listener_;  // guarded by listener_mutex_
    std::function<void()> reconnected_;
    pg_revocation_source revocations_;
    pg_cutoff_source cutoffs_;
    pg_known_source known_;
    std::thread thread_;
};

}  // namespace authd::detail
