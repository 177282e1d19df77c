// --tls-cert and --tls-key: the server's TLS context, its files read by authd (never by OpenSSL,
// which would block on a FIFO at the path).
#pragma once

#include <memory>

#include <boost/asio/ssl/context.hpp>

#include "app/config.hpp"

namespace authd::server {

// TLS 1.2+ with forward-secret AEAD suites only (Mozilla's "intermediate" profile), or nullptr
// when no certificate is set (plain HTTP). Throws std::runtime_error naming the file and the
// reason (not a regular file, readable by group or others, no match for the certificate, ...).
std::unique_ptr<boost::asio::ssl::context> make_tls_context(const server_config& config);

}  // namespace authd::server
