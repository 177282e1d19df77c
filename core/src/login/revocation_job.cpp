#include "authd/login/revocation_job.hpp"

#include <new>

namespace authd {

void revocation_job::run(hash_runner& /*runner*/) noexcept {
    try {
        result_ = service_.revoke(jti_, exp_);
    } catch (const std::bad_alloc&) {
        result_.reset();
    }
}

// The token is revoked in memory already (/verify refuses it): only the store write was left.
// Logging out twice answers ok twice: a client may retry after a 503.
response revocation_job::answer(bool ran) {
    if (!ran || !result_) {
        return canned_response(api_code::busy, 1);
    }
    if (!result_->log_note.empty()) {
        host_.internal_error("logout_internal_error", result_->log_note);
    }
    return json_response(result_->code, result_->body, result_->code == api_code::busy ? 1U : 0U);
}

}  // namespace authd
