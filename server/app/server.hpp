// Starting and stopping authd: the store, the key, the hash pool and one I/O thread per core.
#pragma once

#include "app/config.hpp"

namespace authd::server {

// Runs authd until SIGINT or SIGTERM, then drains: stops accepting, finishes the requests in
// flight, and returns 0. Throws std::exception with a message for the operator when it cannot
// start (key file, store, address).
int run(const server_config& config);

}  // namespace authd::server
