// A client address reduced to what identifies a client, as the brute-force limits, the fair hash
// queues and the per-address connection share key it: an IPv4 address, or the /64 prefix of an
// IPv6 address (one host usually owns a whole /64). IPv4-mapped IPv6 counts as IPv4.
#pragma once

#include <array>
#include <cstdint>

namespace authd {

std::uint64_t address_key(const std::array<unsigned char, 16>& ipv6) noexcept;
std::uint64_t address_key(std::uint32_t ipv4_host_order) noexcept;

}  // namespace authd
