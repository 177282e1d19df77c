#include "app/tls.hpp"

#include <cerrno>
#include <fcntl.h>
#include <stdexcept>
#include <string>
#include <sys/stat.h>

#include <openssl/ssl.h>

#include "authd/crypto/secret.hpp"
#include "authd/util/files.hpp"

namespace authd::server {

namespace asio = boost::asio;

namespace {

// The bytes of a TLS certificate or key file (what: "TLS key file"), read here rather than by
// OpenSSL, which would block on a FIFO at the path: a regular file (symbolic links followed:
// certbot's live/ files are links), at most 1 MiB, private to its owner when it must be.
secret_bytes read_tls_file(const std::string& path, const char* what, bool must_be_private) {
    const auto fail = [&](const std::string& why) {
        return std::runtime_error(std::string(what) + " " + path + ": " + why);
    };
    const fd_guard file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
    if (file.fd < 0) {
        throw fail(errno == ENOENT ? "does not exist" : errno_text("cannot be read"));
    }
    struct stat st {};
    if (::fstat(file.fd, &st) != 0) {
        throw fail(errno_text("cannot be read"));
    }
    if (!S_ISREG(st.st_mode)) {
        throw fail("is not a regular file");
    }
    if (must_be_private && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        throw fail("is accessible by group or others (run: chmod 600 " + path + ")");
    }
    constexpr std::size_t max_bytes = std::size_t{1} << 20;
    secret_bytes bytes;
    if (!read_secret_bytes(file.fd, max_bytes, bytes)) {
        throw fail(errno_text("cannot be read"));
    }
    if (bytes.size() > max_bytes) {
        throw fail("is longer than 1 MiB");
    }
    return bytes;
}

}  // namespace

// TLS 1.2+ with forward-secret AEAD suites only (Mozilla's "intermediate" profile); TLS 1.3 uses
// OpenSSL's defaults, which are all AEAD.
std::unique_ptr<asio::ssl::context> make_tls_context(const server_config& config) {
    if (config.tls_cert.empty()) {
        return nullptr;
    }
    const auto key = read_tls_file(config.tls_key, "TLS key file", true);
    const auto chain = read_tls_file(config.tls_cert, "TLS certificate", false);
    auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    SSL_CTX* native = ctx->native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    SSL_CTX_set_options(
        native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_cipher_list(native,
                            "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                            "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                            "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
    boost::system::error_code ec;
    ctx->use_certificate_chain(asio::buffer(chain.data(), chain.size()), ec);
    if (ec) {
        throw std::runtime_error("TLS certificate " + config.tls_cert + ": " + ec.message());
    }
    ctx->use_private_key(asio::buffer(key.data(), key.size()), asio::ssl::context::pem, ec);
    if (ec) {
        throw std::runtime_error("TLS key file " + config.tls_key + ": " + ec.message());
    }
    if (SSL_CTX_check_private_key(native) != 1) {
        throw std::runtime_error("TLS key file " + config.tls_key +
                                 ": does not match the certificate " + config.tls_cert);
    }
    return ctx;
}

}  // namespace authd::server
