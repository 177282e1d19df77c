#include "authd/crypto/sodium.hpp"

#include <stdexcept>

#include <sodium.h>

namespace authd {

void init_sodium() {
    if (sodium_init() < 0) {
        throw std::runtime_error("libsodium could not be initialised");
    }
}

}  // namespace authd
