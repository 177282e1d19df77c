// The application: what authd answers to a parsed request. A connection reads and parses a
// request, asks handle() what to do, and either writes the response it is given or, for a login
// or a logout, hands the step's job to the hash worker pool and writes what the job answers when
// it comes back (blocking_job.hpp). No socket, thread or clock of the transport here:
// tests/fuzz/request_fuzz.cpp drives this same handler.
//
// One handler per I/O thread: the bodies it returns live in its own buffers, valid until its next
// call.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/core/error.hpp>

#include "authd/crypto/keyring.hpp"
#include "authd/crypto/keyring_holder.hpp"
#include "authd/http/api.hpp"
#include "authd/http/http_response.hpp"
#include "authd/http/request_parser.hpp"
#include "authd/http/router.hpp"
#include "authd/login/blocking_job.hpp"
#include "authd/login/handler_host.hpp"
#include "authd/login/login_service.hpp"
#include "authd/login/revocation_list.hpp"

namespace authd {

// What the connection does next with a request: write `answer`, or have a worker run `job` and
// then write what it answers.
struct step {
    response answer;
    std::unique_ptr<blocking_job> job;  // a login or a logout's stored revocation
    bool logged = true;    // false: health checks and scrapes, which are frequent and say nothing
    bool attempt = false;  // a login attempt, answered here or not (/metrics times them all)
};

class request_handler {
  public:
    // What each I/O thread's handler is made of (shared by all, thread-safe).
    struct parts {
        const login_service& service;
        const keyring_holder& keys;  // the key ring in use (swapped on SIGHUP)
        revocation_list& revocations;
    };

    request_handler(const parts& app, handler_host& host);
    request_handler(const request_handler&) = delete;
    request_handler& operator=(const request_handler&) = delete;

    // Routes and answers a complete request, or gives the job the hash pool must do for it.
    // now is the Unix time in seconds (token checks).
    step handle(const request_head& head, const client_ref& client, std::int64_t now);

    // The answer to a request the parser refused (431, 413, 400); the connection closes after it.
    static response parse_error(const boost::beast::error_code& ec) noexcept;

  private:
    step login(const request_head& head, const client_ref& client);
    step logout(const request_head& head, std::int64_t now);
    std::optional<token_claims> valid_claims(const request_head& head, std::int64_t now) const;
    response verify(const request_head& head, std::int64_t now);
    response forward_auth(const request_head& head, std::int64_t now);

    const login_service& service_;
    const keyring_holder& keys_;
    revocation_list& revocations_;
    handler_host& host_;
    std::string body_;    // the body of the last response built here
    std::string header_;  // its extra header lines
};

}  // namespace authd
