// A fixed 32-byte HS256 key for unit tests that sign and verify tokens in one process.
#pragma once

#include <string>

#include "authd/crypto/secret.hpp"

namespace authd_test_support {

inline authd::secret_bytes fixed_test_key() {
    const std::string k(32, 'k');
    return authd::secret_bytes(reinterpret_cast<const unsigned char*>(k.data()), k.size());
}

}  // namespace authd_test_support
