#include "authd/login/request_handler.hpp"

#include <chrono>

#include "authd/crypto/password_hasher.hpp"
#include "authd/http/http_response.hpp"
#include "authd/login/login_job.hpp"
#include "authd/login/revocation_job.hpp"
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

request_handler::request_handler(const parts& app, handler_host& host)
    : service_(app.service), keys_(app.keys), revocations_(app.revocations), host_(host) {}

step request_handler::handle(const request_head& head, const client_ref& client, std::int64_t now) {
    const auto d = decide(head);
    if (!d.serve) {
        return respond(json_response(d.code, d.body));
    }
    switch (head.route) {
        case route::login:
            return login(head, client);
        case route::verify:
            return respond(verify(head, now));
        case route::forward_auth:
            return respond(forward_auth(head, now));
        case route::logout:
            return logout(head, now);
        case route::healthz:
            return respond(json_response(api_code::ok, ok_body()), false);
        case route::readyz: {
            // Ready: the store answered its last call, and the hash queue has room.
            const bool ready = service_.store_healthy() && host_.hash_queue_has_room();
            return respond(
                ready ? json_response(api_code::ok, ok_body()) : canned_response(api_code::busy, 1),
                false);
        }
        case route::metrics: {
            body_ = host_.metrics_text();
            auto r = json_response(api_code::ok, body_);
            r.content_type = prometheus_content_type;
            return respond(r, false);
        }
        case route::jwks:  // public keys only (RFC 7517); HS256 secrets never
            return respond(json_response(api_code::ok, keys_.get().jwks()));
        case route::unknown:
            break;
    }
    return respond(json_response(api_code::not_found, canned().path_not_found));  // unreachable
}

step request_handler::login(const request_head& head, const client_ref& client) {
    step s;
    s.attempt = true;
    auto request = login_request::from_head(head, client.key);
    if (auto refused = service_.answer_at_once(request)) {
        audit(host_, client, request.user, *refused);
        body_ = std::move(refused->body);
        s.answer = json_response(refused->code, body_, refused->retry_after);
        return s;
    }
    s.job = std::make_unique<login_job>(service_, host_, client, std::move(request));
    return s;
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
    s.job = std::make_unique<revocation_job>(service_, host_, claims->jti, claims->exp);
    return s;
}

response request_handler::parse_error(const boost::beast::error_code& ec) noexcept {
    const auto d = decide_parse_error(ec);
    return json_response(d.code, d.body);
}

}  // namespace authd
