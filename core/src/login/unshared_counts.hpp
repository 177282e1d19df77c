// Failures a limiter counted by itself while its limit store did not answer, kept to be merged
// once it answers again (attempt_limiter_sharing.cpp). Private to core/.
#pragma once

#include <mutex>
#include <string>
#include <unordered_map>

#include "authd/login/attempt_limiter.hpp"

namespace authd {

// By budget and key (unshared_key).
struct attempt_limiter::unshared {
    std::mutex mutex;
    std::unordered_map<std::string, unshared_count> counts;
};

}  // namespace authd
