#include "authd/login/login_job.hpp"

#include <new>

namespace authd {

std::string_view outcome_name(login_outcome outcome) noexcept {
    switch (outcome) {
        case login_outcome::success:
            return "success";
        case login_outcome::failure:
            return "failure";
        case login_outcome::rate_limited:
            return "rate_limited";
        case login_outcome::busy:
            return "busy";
        case login_outcome::error:
            break;
    }
    return "error";
}

login_outcome outcome_of(const service_result& result) noexcept {
    switch (result.code) {
        case api_code::ok:
            return login_outcome::success;
        case api_code::not_found:
            return login_outcome::failure;
        case api_code::too_many_attempts:
            return login_outcome::rate_limited;
        case api_code::busy:
            return login_outcome::busy;
        default:
            return login_outcome::error;
    }
}

void audit(handler_host& host, const client_ref& client, std::string_view user,
           const service_result& result) {
    host.audit_login(outcome_of(result), client, user, result.refused_by);
    if (!result.log_note.empty()) {
        host.internal_error("login_internal_error", result.log_note);
    }
}

void login_job::run(hash_runner& runner) noexcept {
    try {
        result_ = service_.attempt(request_, runner);
    } catch (const std::bad_alloc&) {
        result_.reset();  // answered as a job that could not run
    }
}

response login_job::answer(bool ran) {
    if (!ran || !result_) {
        host_.audit_login(login_outcome::busy, client_, request_.user);
        return canned_response(api_code::busy, 1);
    }
    audit(host_, client_, request_.user, *result_);
    const auto& r = *result_;
    return json_response(r.code, r.body, r.code == api_code::busy ? 1 : r.retry_after);
}

}  // namespace authd
