#include "authd/login/address_key.hpp"

#include <algorithm>

namespace authd {

std::uint64_t address_key(std::uint32_t ipv4) noexcept {
    return (std::uint64_t{1} << 63) | ipv4;  // tagged: no IPv6 /64 maps here in practice
}

std::uint64_t address_key(const std::array<unsigned char, 16>& ip) noexcept {
    static constexpr unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(ip.begin(), ip.begin() + 12, mapped)) {
        return address_key((std::uint32_t{ip[12]} << 24) | (std::uint32_t{ip[13]} << 16) |
                           (std::uint32_t{ip[14]} << 8) | ip[15]);
    }
    std::uint64_t prefix = 0;
    for (int i = 0; i < 8; ++i) {
        prefix = (prefix << 8) | ip[static_cast<std::size_t>(i)];
    }
    return prefix & ~(std::uint64_t{1} << 63);
}

}  // namespace authd
