// The application: what authd answers to a parsed request. A connection reads and parses a
// request, asks handle() what to do, and either writes the response it is given or, for a login
// or a logout, hands the job to the hash worker pool and writes what login_done() or
// logout_done() make of the pool's result. No socket, thread or clock of the transport here:
// tests/fuzz/request_fuzz.cpp drives this same handler.
//
// One handler per I/O thread: the bodies it returns live in its own buffers, valid until its next
// call.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/core/error.hpp>

#include "authd/crypto/keyring.hpp"
#include "authd/crypto/keyring_holder.hpp"
#include "authd/http/api.hpp"
#include "authd/http/request.hpp"
#include "authd/login/attempt_limiter.hpp"
#include "authd/login/login_service.hpp"
#include "authd/login/revocation_list.hpp"

namespace authd {

// A response for the connection to write.
struct response {
    api_code code = api_code::ok;
    std::string_view body;          // valid until the handler's next call
    std::uint32_t retry_after = 0;  // > 0: a Retry-After header of that many seconds
    std::string_view content_type = "application/json";
    std::string_view extra_headers;  // whole header lines, each ending in CRLF
};

// A JSON response (no extra header), and the one of canned_body(code).
response json_response(api_code code, std::string_view body, std::uint32_t retry_after = 0);
response canned_response(api_code code, std::uint32_t retry_after = 0);

// What the connection does next with a request.
struct step {
    enum class kind : std::uint8_t {
        respond,           // write `answer`
        hash_login,        // queue the request's credentials on the hash pool, then login_done()
        store_revocation,  // queue the revocation of token `jti` until `exp`, then logout_done()
    } what = kind::respond;
    response answer;
    std::string jti;  // store_revocation: the token's id (the step's own: the handler is shared)
    std::int64_t exp = 0;
    bool logged = true;    // false: health checks and scrapes, which are frequent and say nothing
    bool attempt = false;  // a login attempt, answered here or not (/metrics times them all)
};

// The client as the handler sees it: its address key (attempt_limiter::address_key) and its
// address as text (for the audit log).
struct client_ref {
    std::uint64_t key = 0;
    std::string_view address;
};

// How a login ended, for the audit log and the metrics.
enum class login_outcome : std::uint8_t { success, failure, rate_limited, busy, error };
std::string_view outcome_name(login_outcome outcome) noexcept;

// What the handler needs from the server around it (implemented by server/, and by the fuzzer).
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

class request_handler {
  public:
    request_handler(attempt_limiter& limiter, const login_service& service,
                    const keyring_holder& keys, revocation_list& revocations, handler_host& host);
    request_handler(const request_handler&) = delete;
    request_handler& operator=(const request_handler&) = delete;

    // Routes and answers a complete request, or says which job the hash pool must do for it.
    // now is the Unix time in seconds (token checks).
    step handle(const request_head& head, const client_ref& client, std::int64_t now);

    // The answer to a login, from the hash pool's result (nullopt: the queue was full).
    response login_done(const request_head& head, const client_ref& client,
                        const std::optional<service_result>& result);

    // The answer to a logout, from the hash pool's result (nullopt: the queue was full).
    response logout_done(const std::optional<service_result>& result);

    // The answer to a request the parser refused (431, 413, 400); the connection closes after it.
    static response parse_error(const boost::beast::error_code& ec) noexcept;

  private:
    step login(const request_head& head, const client_ref& client);
    step logout(const request_head& head, std::int64_t now);
    std::optional<token_claims> valid_claims(const request_head& head, std::int64_t now) const;
    response verify(const request_head& head, std::int64_t now);
    response forward_auth(const request_head& head, std::int64_t now);
    response respond_rate_limited(std::uint32_t wait);

    attempt_limiter& limiter_;
    const login_service& service_;
    const keyring_holder& keys_;
    revocation_list& revocations_;
    handler_host& host_;
    std::string body_;    // the body of the last response built here
    std::string header_;  // its extra header lines
};

}  // namespace authd
