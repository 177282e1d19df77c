// A login as a blocking_job: the request's own copy of the credentials goes to a hash worker,
// which runs the whole attempt (login_service::attempt), and comes back with its answer and its
// audit line.
#pragma once

#include <optional>

#include "authd/login/blocking_job.hpp"
#include "authd/login/handler_host.hpp"
#include "authd/login/login_request.hpp"
#include "authd/login/login_service.hpp"

namespace authd {

// The outcome a login's answer counts as, in the audit log and the metrics.
login_outcome outcome_of(const service_result& result) noexcept;

// Writes the audit line of a login's answer (and the log note of a failure, never a secret).
void audit(handler_host& host, const client_ref& client, std::string_view user,
           const service_result& result);

class login_job final : public blocking_job {
  public:
    login_job(const login_service& service, handler_host& host, const client_ref& client,
              login_request request)
        : service_(service), host_(host), client_(client), request_(std::move(request)) {}

    void run(hash_runner& runner) noexcept override;
    response answer(bool ran) override;

  private:
    const login_service& service_;
    handler_host& host_;
    client_ref client_;  // its address text is the connection's, which outlives the answer
    login_request request_;
    std::optional<service_result> result_;
};

}  // namespace authd
