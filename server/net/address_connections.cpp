#include "net/address_connections.hpp"

namespace authd::server {

bool address_connections::acquire(std::uint64_t address) {
    if (limit_ == 0) {
        return true;
    }
    auto& s = shard_of(address);
    const std::lock_guard lock(s.mutex);
    auto& open = s.open[address];
    if (open >= limit_) {
        if (open == 0) {
            s.open.erase(address);
        }
        return false;
    }
    ++open;
    return true;
}

void address_connections::release(std::uint64_t address) {
    if (limit_ == 0) {
        return;
    }
    auto& s = shard_of(address);
    const std::lock_guard lock(s.mutex);
    const auto it = s.open.find(address);
    if (it != s.open.end() && --it->second == 0) {
        s.open.erase(it);
    }
}

}  // namespace authd::server
