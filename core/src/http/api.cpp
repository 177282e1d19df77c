#include "authd/http/api.hpp"

#include <array>
#include <cstdio>

#include "authd/util/text.hpp"

namespace authd {

unsigned http_status(api_code code) noexcept {
    switch (code) {
        case api_code::ok:
            return 200;
        case api_code::invalid_token:
            return 401;
        case api_code::field_missing:  // the seed's 402 is a client error, not "Payment Required"
        case api_code::bad_request:
            return 400;
        case api_code::not_found:  // "Data not found." and an unknown path alike
            return 404;
        case api_code::method_not_allowed:
            return 405;
        case api_code::payload_too_large:
            return 413;
        case api_code::too_many_attempts:
            return 429;
        case api_code::headers_too_large:
            return 431;
        case api_code::busy:
            return 503;
        case api_code::internal_error:
            return 500;
    }
    return 500;
}

std::string_view reason_phrase(unsigned status) noexcept {
    switch (status) {
        case 200:
            return "OK";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 413:
            return "Content Too Large";
        case 429:
            return "Too Many Requests";
        case 431:
            return "Request Header Fields Too Large";
        case 503:
            return "Service Unavailable";
        default:
            return "Internal Server Error";
    }
}

std::string_view field_name(credential_field f) noexcept {
    switch (f) {
        case credential_field::password:
            return "Password";
        case credential_field::user_name:
            return "User-Name";
        case credential_field::token:
            return "Token";
        case credential_field::count:
            break;
    }
    return "Token";
}

namespace {

std::string field_message(credential_field f, std::string_view tail) {
    std::string out = "Required field < ";
    out += field_name(f);
    out += " > ";
    out += tail;
    return out;
}

}  // namespace

std::string message_field_missing(credential_field f) {
    return field_message(f, "is not specified.");
}

std::string message_field_empty(credential_field f) {
    return field_message(f, "is empty.");
}

std::string message_field_duplicated(credential_field f) {
    std::string out = "Field < ";
    out += field_name(f);
    out += " > is duplicated.";
    return out;
}

std::string message_too_many_attempts(std::uint32_t retry_after_seconds) {
    return "Too many attempts. Retry in " + std::to_string(retry_after_seconds) + " s.";
}

std::string error_body(api_code code, std::string_view message) {
    std::string out = "{\"code\":";
    out += std::to_string(static_cast<unsigned>(code));
    out += ",\"status\":\"error\",\"message\":\"";
    append_json_escaped(out, message);
    out += "\"}";
    return out;
}

std::string token_body(std::string_view token) {
    std::string out;
    out.reserve(40 + token.size());
    out += R"({"code":200,"status":"ok","token":")";
    out += token;
    out += "\"}";
    return out;
}

std::string verified_body(std::string_view user, std::int64_t exp) {
    std::string out = R"({"code":200,"status":"ok","user":")";
    append_json_escaped(out, user);
    out += R"(","exp":)";
    out += std::to_string(exp);
    out += '}';
    return out;
}

std::string_view ok_body() noexcept {
    return R"({"code":200,"status":"ok"})";
}

canned_bodies::canned_bodies() {
    for (std::size_t i = 0; i < credential_field_count; ++i) {
        const auto f = static_cast<credential_field>(i);
        missing[i] = error_body(api_code::field_missing, message_field_missing(f));
        empty[i] = error_body(api_code::field_missing, message_field_empty(f));
        duplicated[i] = error_body(api_code::bad_request, message_field_duplicated(f));
    }
}

const canned_bodies& canned() noexcept {
    static const canned_bodies bodies;
    return bodies;
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
        case api_code::invalid_token:
            return canned().invalid_token;
        default:
            return canned().internal;
    }
}

}  // namespace authd
