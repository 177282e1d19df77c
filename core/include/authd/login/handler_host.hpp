// What the application (core/login) needs from the server around it, and how it names a client:
// implemented by server/net for each I/O thread, and by the fuzz target.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "authd/store/limit_store.hpp"

namespace authd {

// The client as the handler sees it: its address key (attempt_limiter::address_key) and its
// address as text (for the audit log; it lives as long as the connection).
struct client_ref {
    std::uint64_t key = 0;
    std::string_view address;
};

// How a login ended, for the audit log and the metrics.
enum class login_outcome : std::uint8_t { success, failure, rate_limited, busy, error };
std::string_view outcome_name(login_outcome outcome) noexcept;

class handler_host {
  public:
    virtual ~handler_host() = default;
    // /readyz: the hash queue has room for more logins.
    virtual bool hash_queue_has_room() const = 0;
    // /metrics: the Prometheus text of the whole process.
    virtual std::string metrics_text() const = 0;
    // One login's outcome (the audit line; rate_limited is counted in /metrics too).
    // refused_by: for a rate_limited outcome, the budget that refused (for the log only).
    virtual void audit_login(login_outcome outcome, const client_ref& client, std::string_view user,
                             limit_budget refused_by = limit_budget::none) = 0;
    // Something went wrong that only the log is told about (never a secret).
    virtual void internal_error(std::string_view event, std::string_view detail) = 0;
};

}  // namespace authd
