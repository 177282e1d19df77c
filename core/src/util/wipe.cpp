#include "authd/util/wipe.hpp"

#include <string.h>

namespace authd {

// The whole capacity, not only the size: a shorter value written over a longer one (or a string
// cleared before) leaves the rest of the old bytes in the buffer.
void wipe(std::string& s) noexcept {
    s.resize(s.capacity());
    if (!s.empty()) {
        explicit_bzero(s.data(), s.size());
    }
    s.clear();
}

void wipe(void* data, std::size_t size) noexcept {
    if (size > 0) {
        explicit_bzero(data, size);
    }
}

}  // namespace authd
