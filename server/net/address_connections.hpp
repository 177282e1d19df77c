// Connections open per client address, across every I/O thread, so that one address cannot take
// the whole connection cap (docs/security.md). Addresses are keyed as the brute-force limits key
// them (login/address_key.hpp: an IPv4 address, or an IPv6 /64).
//
// Thread-safe: one short-held mutex per shard, taken once when a connection is accepted and once
// when it closes (never per request). Memory: one entry per address with connections open.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include <boost/asio/ip/address.hpp>

#include "authd/login/address_key.hpp"

namespace authd::server {

// A peer's address as the limits key it (login/address_key.hpp).
inline std::uint64_t address_key_of(const boost::asio::ip::address& peer) {
    return peer.is_v4() ? address_key(peer.to_v4().to_uint())
                        : address_key(peer.to_v6().to_bytes());
}

class address_connections {
  public:
    // limit: connections one address may have open at once; 0: no limit.
    explicit address_connections(std::size_t limit) : limit_(limit) {}

    // Counts a new connection of address; false (and nothing counted) when the address has its
    // limit open already.
    bool acquire(std::uint64_t address);
    // Uncounts a connection that acquire() counted.
    void release(std::uint64_t address);

  private:
    static constexpr std::size_t shard_count = 16;
    struct shard {
        std::mutex mutex;
        std::unordered_map<std::uint64_t, std::size_t> open;
    };
    shard& shard_of(std::uint64_t address) { return shards_[address % shard_count]; }

    std::size_t limit_;
    std::array<shard, shard_count> shards_;
};

}  // namespace authd::server
