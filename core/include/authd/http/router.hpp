// Routing a parsed request: which requests a route serves, and the fixed answers to the others,
// in the order of checks docs/api.md gives. Pure: no socket, no state.
#pragma once

#include <string_view>

#include <boost/beast/core/error.hpp>

#include "authd/http/api.hpp"
#include "authd/http/request_parser.hpp"

namespace authd {

// What to do with a complete request head: answer at once with a fixed response (a header
// missing, repeated or empty, a method the route does not take, an unknown path), or do the work
// of its route (log in, check a token, report health or metrics).
// serve: the request is one its route takes (head.route says which: route's work follows);
// else the fixed response code and body.
struct decision {
    bool serve = false;
    api_code code = api_code::ok;
    std::string_view body;  // when not served: a body that lives as long as the process
};

// Routes and validates a parsed request (pure; the order of checks is docs/api.md's).
decision decide(const request_head& head) noexcept;

// The token a /verify request presents: the Token header, or the credentials of an
// "Authorization: Bearer" header. Empty when neither is there.
std::string_view presented_token(const request_head& head) noexcept;

// The fixed response for a parse error reported by the parser (431, 413, 400).
decision decide_parse_error(const boost::beast::error_code& ec) noexcept;

}  // namespace authd
