#include "authd/http/router.hpp"

#include <algorithm>
#include <optional>
#include <string_view>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

namespace authd {

namespace http = boost::beast::http;

namespace {

decision respond(api_code code, std::string_view body) {
    return decision{false, code, body};
}

constexpr decision served{true, api_code::ok, {}};

// Checks one credential header: the refusal when it is missing, repeated or empty, nothing when it
// is usable.
std::optional<decision> refusal(const credential_header& h, credential_field f) noexcept {
    if (h.count == 0) {
        return respond(api_code::field_missing, canned_bodies::of(canned().missing, f));
    }
    if (h.count > 1) {
        return respond(api_code::bad_request, canned_bodies::of(canned().duplicated, f));
    }
    if (h.value.empty()) {
        return respond(api_code::field_missing, canned_bodies::of(canned().empty, f));
    }
    return std::nullopt;
}

std::string_view bearer_credentials(std::string_view authorization) noexcept {
    // RFC 6750 section 2.1: "Bearer" (case-insensitive) then one or more spaces.
    constexpr std::string_view scheme = "Bearer ";
    if (authorization.size() <= scheme.size() ||
        !boost::beast::iequals(authorization.substr(0, scheme.size()), scheme)) {
        return {};
    }
    const auto rest = authorization.substr(scheme.size());
    return rest.substr(std::min(rest.find_first_not_of(' '), rest.size()));
}

decision decide_verify(const request_head& head) noexcept {
    if (head.token.count == 0 && head.authorization.count > 0) {
        if (head.authorization.count > 1) {
            return respond(api_code::bad_request,
                           canned_bodies::of(canned().duplicated, credential_field::token));
        }
        return bearer_credentials(head.authorization.value).empty()
                   ? respond(api_code::field_missing,
                             canned_bodies::of(canned().missing, credential_field::token))
                   : served;
    }
    if (head.token.count > 0 && head.authorization.count > 0) {
        return respond(
            api_code::bad_request,
            canned_bodies::of(canned().duplicated, credential_field::token));  // two tokens: which?
    }
    return refusal(head.token, credential_field::token).value_or(served);
}

decision decide_login(const request_head& head) noexcept {
    // Password first: the seed's parameter table lists it first.
    if (auto r = refusal(head.password, credential_field::password)) {
        return *r;
    }
    return refusal(head.user_name, credential_field::user_name).value_or(served);
}

}  // namespace

std::string_view presented_token(const request_head& head) noexcept {
    return head.token.count > 0 ? std::string_view(head.token.value)
                                : bearer_credentials(head.authorization.value);
}

decision decide(const request_head& head) noexcept {
    if (head.route == route::unknown) {
        return respond(api_code::not_found, canned().path_not_found);
    }
    // Forward auth answers any method (Envoy's ext_authz keeps the original request's), and
    // every refusal, a missing token included, is the proxy's 401 (docs/forward-auth.md).
    if (head.route == route::forward_auth) {
        return served;
    }
    if (head.method != http::verb::get && head.method != http::verb::post) {
        return respond(api_code::method_not_allowed, canned().method_not_allowed);
    }
    switch (head.route) {
        case route::login:
            return decide_login(head);
        case route::verify:
        case route::logout:  // the same token headers
            return decide_verify(head);
        case route::healthz:
        case route::readyz:
        case route::metrics:
        case route::jwks:
            return served;
        case route::forward_auth:  // answered above, for every method
        case route::unknown:
            break;
    }
    return respond(api_code::not_found, canned().path_not_found);
}

decision decide_parse_error(const boost::beast::error_code& ec) noexcept {
    if (ec == http::error::header_limit) {
        return respond(api_code::headers_too_large, canned().headers_too_large);
    }
    if (ec == http::error::body_limit) {
        return respond(api_code::payload_too_large, canned().payload_too_large);
    }
    return respond(api_code::bad_request, canned().bad_request);
}

}  // namespace authd
