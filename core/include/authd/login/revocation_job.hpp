// /logout's stored revocation as a blocking_job: a store write, so on a worker too.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "authd/login/blocking_job.hpp"
#include "authd/login/handler_host.hpp"
#include "authd/login/login_service.hpp"

namespace authd {

class revocation_job final : public blocking_job {
  public:
    revocation_job(const login_service& service, handler_host& host, std::string jti,
                   std::int64_t exp)
        : service_(service), host_(host), jti_(std::move(jti)), exp_(exp) {}

    void run(hash_runner& runner) noexcept override;
    response answer(bool ran) override;

  private:
    const login_service& service_;
    handler_host& host_;
    std::string jti_;
    std::int64_t exp_;
    std::optional<service_result> result_;
};

}  // namespace authd
