#include "authd/request.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

#include "authd/secret.hpp"

namespace authd {

namespace http = boost::beast::http;

void credential_header::clear() noexcept {
    wipe(value);
    count = 0;
}

void request_head::clear() noexcept {
    method = http::verb::unknown;
    route = route::unknown;
    version = 11;
    password.clear();
    user_name.clear();
}

request_parser::request_parser(request_head& head, const request_limits& limits)
    : head_(head), limits_(limits) {
    head_.clear();
    header_limit(limits.header_bytes);
    body_limit(limits.body_bytes);
}

namespace {

route route_of(std::string_view target) {
    const auto path = target.substr(0, target.find('?'));
    return path == "/login" ? route::login : route::unknown;
}

}  // namespace

void request_parser::on_request_impl(http::verb method, string_view, string_view target,
                                     int version, error_code& ec) {
    if (target.size() > limits_.target_bytes) {
        ec = http::error::header_limit;
        return;
    }
    head_.method = method;
    head_.route = route_of(target);
    head_.version = version;
}

void request_parser::on_response_impl(int, string_view, int, error_code& ec) {
    ec = http::error::bad_method;  // unreachable: this is a request parser
}

void request_parser::on_field_impl(http::field, string_view name, string_view value,
                                   error_code& ec) {
    if (++fields_ > limits_.fields || value.size() > limits_.field_bytes) {
        ec = http::error::header_limit;
        return;
    }
    credential_header* target = nullptr;
    if (boost::beast::iequals(name, "Password")) {
        target = &head_.password;
    } else if (boost::beast::iequals(name, "User-Name")) {
        target = &head_.user_name;
    } else {
        return;
    }
    // Keep the first value only: a duplicated header is refused (decide()), never picked from.
    if (target->count == 0) {
        target->value.assign(value.data(), value.size());
    }
    if (target->count < 255) {
        ++target->count;
    }
}

void request_parser::on_header_impl(error_code&) {}

void request_parser::on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) {}

// The body is never used: discard it as it arrives (basic_parser enforces the body limit).
std::size_t request_parser::on_body_impl(string_view body, error_code&) {
    return body.size();
}

void request_parser::on_chunk_header_impl(std::uint64_t, string_view, error_code&) {}

std::size_t request_parser::on_chunk_body_impl(std::uint64_t, string_view body, error_code&) {
    return body.size();
}

void request_parser::on_finish_impl(error_code&) {}

namespace {

// Every body authd sends that never changes, built once.
struct canned_bodies {
    std::string missing[2];
    std::string empty[2];
    std::string duplicated[2];
    std::string data_not_found = error_body(api_code::not_found, msg_data_not_found);
    std::string path_not_found = error_body(api_code::not_found, msg_path_not_found);
    std::string method_not_allowed =
        error_body(api_code::method_not_allowed, msg_method_not_allowed);
    std::string headers_too_large = error_body(api_code::headers_too_large, msg_headers_too_large);
    std::string payload_too_large = error_body(api_code::payload_too_large, msg_payload_too_large);
    std::string bad_request = error_body(api_code::bad_request, msg_bad_request);
    std::string busy = error_body(api_code::busy, msg_busy);
    std::string internal = error_body(api_code::internal_error, msg_internal);

    canned_bodies() {
        for (const auto f : {credential_field::password, credential_field::user_name}) {
            const auto i = static_cast<std::size_t>(f);
            missing[i] = error_body(api_code::field_missing, message_field_missing(f));
            empty[i] = error_body(api_code::field_missing, message_field_empty(f));
            duplicated[i] = error_body(api_code::bad_request, message_field_duplicated(f));
        }
    }
};

const canned_bodies& canned() {
    static const canned_bodies bodies;
    return bodies;
}

decision respond(api_code code, std::string_view body) {
    return decision{decision::kind::respond, code, body};
}

// Checks one credential header; a decision of kind::login means "present and usable".
decision check(const credential_header& h, credential_field f) {
    const auto i = static_cast<std::size_t>(f);
    if (h.count == 0) {
        return respond(api_code::field_missing, canned().missing[i]);
    }
    if (h.count > 1) {
        return respond(api_code::bad_request, canned().duplicated[i]);
    }
    if (h.value.empty()) {
        return respond(api_code::field_missing, canned().empty[i]);
    }
    return decision{decision::kind::login, api_code::ok, {}};
}

}  // namespace

decision decide(const request_head& head) noexcept {
    if (head.route == route::unknown) {
        return respond(api_code::not_found, canned().path_not_found);
    }
    if (head.method != http::verb::get && head.method != http::verb::post) {
        return respond(api_code::method_not_allowed, canned().method_not_allowed);
    }
    // Password first: the seed's parameter table lists it first.
    if (auto d = check(head.password, credential_field::password);
        d.what != decision::kind::login) {
        return d;
    }
    return check(head.user_name, credential_field::user_name);
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

std::string_view canned_body(api_code code) noexcept {
    switch (code) {
        case api_code::not_found:
            return canned().data_not_found;
        case api_code::method_not_allowed:
            return canned().method_not_allowed;
        case api_code::headers_too_large:
            return canned().headers_too_large;
        case api_code::payload_too_large:
            return canned().payload_too_large;
        case api_code::bad_request:
            return canned().bad_request;
        case api_code::busy:
            return canned().busy;
        default:
            return canned().internal;
    }
}

}  // namespace authd
