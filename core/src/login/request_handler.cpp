#include "authd/login/request_handler.hpp"

#include <chrono>

#include "authd/crypto/password_hasher.hpp"
#include "authd/http/http_response.hpp"
#include "authd/store/user_store.hpp"

namespace authd {

namespace {

step respond(const response& r, bool logged = true) {
    step s;
    s.answer = r;
    s.logged = logged;
    return s;
}

}  // namespace

response json_response(api_code code, std::string_view body, std::uint32_t retry_after) {
    response r;
    r.code = code;
    r.body = body;
    r.retry_after = retry_after;
    return r;
}

response canned_response(api_code code, std::uint32_t retry_after) {
    return json_response(code, canned_body(code), retry_after);
}

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

request_handler::request_handler(attempt_limiter& limiter, const login_service& service,
                                 const keyring_holder& keys, revocation_list& revocations,
                                 handler_host& host)
    : limiter_(limiter), service_(service), keys_(keys), revocations_(revocations), host_(host) {}

step request_handler::handle(const request_head& head, const client_ref& client, std::int64_t now) {
    const auto d = decide(head);
    switch (d.what) {
        case decision::kind::login:
            return login(head, client);
        case decision::kind::verify:
            return respond(verify(head, now));
        case decision::kind::forward_auth:
            return respond(forward_auth(head, now));
        case decision::kind::logout:
            return logout(head, now);
        case decision::kind::healthz:
            return respond(json_response(api_code::ok, ok_body()), false);
        case decision::kind::readyz: {
            // Ready: the store answered its last call, and the hash queue has room.
            const bool ready = service_.store_healthy() && host_.hash_queue_has_room();
            return respond(
                ready ? json_response(api_code::ok, ok_body()) : canned_response(api_code::busy, 1),
                false);
        }
        case decision::kind::metrics:
            body_ = host_.metrics_text();
            {
                auto r = json_response(api_code::ok, body_);
                r.content_type = prometheus_content_type;
                return respond(r, false);
            }
        case decision::kind::jwks:  // public keys only (RFC 7517); HS256 secrets never
            return respond(json_response(api_code::ok, keys_.get().jwks()));
        case decision::kind::respond:
            break;
    }
    return respond(json_response(d.code, d.body));
}

step request_handler::login(const request_head& head, const client_ref& client) {
    step s;
    s.attempt = true;
    // A password longer than any stored one cannot match: refused here, without a hash, a queue
    // slot or a brute-force counter entry (such requests are cheap to send by the thousand).
    if (head.password.value.size() > max_password_bytes) {
        host_.audit_login(login_outcome::failure, client, head.user_name.value);
        s.answer = canned_response(api_code::not_found);
        return s;
    }
    // The cheap check first (read only, no counter entry is made): a waiting account or address
    // costs no queue slot. The attempt is admitted, and counted, by the worker that hashes it.
    const auto check =
        limiter_.retry_after(head.user_name.value, client.key, attempt_limiter::clock::now());
    if (check.wait != 0) {
        host_.audit_login(login_outcome::rate_limited, client, head.user_name.value,
                          check.refused_by);
        s.answer = respond_rate_limited(check.wait);
        return s;
    }
    s.what = step::kind::hash_login;
    return s;
}

response request_handler::respond_rate_limited(std::uint32_t wait) {
    body_ = error_body(api_code::too_many_attempts, message_too_many_attempts(wait));
    return json_response(api_code::too_many_attempts, body_, wait);
}

response request_handler::login_done(const request_head& head, const client_ref& client,
                                     const std::optional<service_result>& result) {
    const auto user = head.user_name.value;
    if (!result) {
        host_.audit_login(login_outcome::busy, client, user);
        return canned_response(api_code::busy, 1);
    }
    switch (result->code) {
        case api_code::ok:
            host_.audit_login(login_outcome::success, client, user);
            break;
        case api_code::not_found:
            host_.audit_login(login_outcome::failure, client, user);
            break;
        case api_code::too_many_attempts:
            host_.audit_login(login_outcome::rate_limited, client, user, result->refused_by);
            break;
        case api_code::busy:
            host_.audit_login(login_outcome::busy, client, user);
            break;
        default:
            host_.audit_login(login_outcome::error, client, user);
            break;
    }
    if (!result->log_note.empty()) {
        host_.internal_error("login_internal_error", result->log_note);
    }
    body_ = result->body;
    return json_response(result->code, body_,
                         result->code == api_code::busy ? 1 : result->retry_after);
}

// The claims of the presented token when it verifies now and is neither revoked (/logout) nor void
// (issued before its user's password change or removal). On the I/O thread: an HMAC or a
// signature check and a small JSON parse, microseconds; never the store or the hash pool.
std::optional<token_claims> request_handler::valid_claims(const request_head& head,
                                                          std::int64_t now) const {
    auto claims = keys_.verify(presented_token(head), now);
    if (!claims || revocations_.revoked(claims->jti) || service_.voided(*claims)) {
        return std::nullopt;
    }
    return claims;
}

response request_handler::verify(const request_head& head, std::int64_t now) {
    const auto claims = valid_claims(head, now);
    if (!claims) {
        return canned_response(api_code::invalid_token);
    }
    body_ = verified_body(claims->user, claims->exp);
    return json_response(api_code::ok, body_);
}

// Forward auth (docs/forward-auth.md): a proxy asks whether the request it holds may pass. As
// /verify, but every refusal is a 401 (a proxy takes any other status for a failure of the check
// itself), and the user goes in Remote-User and X-Auth-Request-User.
response request_handler::forward_auth(const request_head& head, std::int64_t now) {
    const bool one_token = head.token.count + head.authorization.count == 1;
    const auto claims = one_token ? valid_claims(head, now) : std::nullopt;
    // The name goes into a header line: only a name authd could have issued a token for (no
    // control character, so no CR or LF; no space at either end, which the application's HTTP
    // parser would strip into another user's name), whoever else holds an HS256 key.
    if (!claims || !valid_user_name(claims->user) || user_name_has_outer_space(claims->user)) {
        return canned_response(api_code::invalid_token);
    }
    body_ = verified_body(claims->user, claims->exp);
    // Authelia's name, and oauth2-proxy's (its auth endpoint answers X-Auth-Request-User): a
    // proxy copies either onto the upstream request as it is (Caddy's copy_headers can copy a
    // response header to one request header only).
    header_ = "Remote-User: ";
    header_ += claims->user;
    header_ += "\r\nX-Auth-Request-User: ";
    header_ += claims->user;
    header_ += "\r\n";
    auto r = json_response(api_code::ok, body_);
    r.extra_headers = header_;
    return r;
}

// /logout: revokes the presented token until it expires. In memory first (so /verify refuses it
// at once), then in the store, on a hash worker (a blocking write). Logging out twice answers ok
// twice: a client may retry after a 503.
step request_handler::logout(const request_head& head, std::int64_t now) {
    const auto claims = keys_.verify(presented_token(head), now);
    // (Every verified token has a jti: its own, or derived_token_id() of one without.)
    if (!claims || service_.voided(*claims)) {
        return respond(canned_response(api_code::invalid_token));
    }
    if (!revocations_.add(claims->jti, claims->exp, now)) {
        return respond(canned_response(api_code::busy, 1));
    }
    step s;
    s.what = step::kind::store_revocation;
    s.jti = claims->jti;  // the step's own copy: this handler serves the thread's other connections
    s.exp = claims->exp;
    return s;
}

response request_handler::logout_done(const std::optional<service_result>& result) {
    if (!result) {
        return canned_response(api_code::busy, 1);
    }
    if (!result->log_note.empty()) {
        host_.internal_error("logout_internal_error", result->log_note);
    }
    body_ = result->body;
    return json_response(result->code, body_, result->code == api_code::busy ? 1U : 0U);
}

response request_handler::parse_error(const boost::beast::error_code& ec) noexcept {
    const auto d = decide_parse_error(ec);
    return json_response(d.code, d.body);
}

}  // namespace authd
