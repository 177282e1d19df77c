// What a connection allows its client: a plain struct of the transport's own, with the defaults
// in the declaration, filled from the settings by app/ (app/config.hpp's connection_settings()).
#pragma once

#include <chrono>
#include <cstddef>

#include "authd/http/request_parser.hpp"

namespace authd::server {

struct connection_options {
    request_limits limits;
    std::size_t max_requests_per_connection = 1'000;    // then Connection: close
    std::chrono::milliseconds idle_timeout{60'000};     // keep-alive: waiting for a new request
    std::chrono::milliseconds request_timeout{10'000};  // reading one request once it started
    std::chrono::milliseconds write_timeout{10'000};    // writing one response
};

}  // namespace authd::server
