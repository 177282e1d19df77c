#include "app/listen_address.hpp"

#include <stdexcept>

namespace authd::server {

namespace asio = boost::asio;
using asio::ip::tcp;

tcp::endpoint parse_endpoint(const std::string& text) {
    // "HOST:PORT" or "[IPv6]:PORT"
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
        throw std::invalid_argument("--listen: expected HOST:PORT, got '" + text + "'");
    }
    auto host = text.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(host, ec);
    if (ec) {
        throw std::invalid_argument("--listen: '" + host + "' is not an IP address");
    }
    unsigned long port = 0;
    try {
        std::size_t used = 0;
        port = std::stoul(text.substr(colon + 1), &used);
        if (used != text.size() - colon - 1 || port > 65535) {
            throw std::out_of_range("port");
        }
    } catch (const std::logic_error&) {
        throw std::invalid_argument("--listen: '" + text.substr(colon + 1) + "' is not a port");
    }
    return {address, static_cast<unsigned short>(port)};
}

std::string to_string(const tcp::endpoint& e) {
    const auto address = e.address().to_string();
    return (e.address().is_v6() ? "[" + address + "]" : address) + ":" + std::to_string(e.port());
}

}  // namespace authd::server
