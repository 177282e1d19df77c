// --listen's value: "HOST:PORT" or "[IPv6]:PORT", to a TCP endpoint and back.
#pragma once

#include <string>

#include <boost/asio/ip/tcp.hpp>

namespace authd::server {

// Throws std::invalid_argument naming --listen when text is no IP address and port.
boost::asio::ip::tcp::endpoint parse_endpoint(const std::string& text);
std::string to_string(const boost::asio::ip::tcp::endpoint& e);

}  // namespace authd::server
