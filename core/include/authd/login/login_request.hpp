// One login attempt as it travels from the request head to the login service on a worker: its own
// copies of the credentials (wiped when it ends: the request's storage is reused meanwhile), the
// client, and the account's digest, computed once for every budget that counts the attempt. What
// a later step of a login needs of the request (a second factor's code) is a field here, filled
// in from_head() and read in login_service.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "authd/http/request_parser.hpp"
#include "authd/store/limit_store.hpp"

namespace authd {

struct login_request {
    std::string user;  // login_user_name() of the User-Name received
    // The User-Name as received when user is another form of it, else empty: an older store may
    // hold an account under these very bytes (it stored names as they came), and the login
    // falls back to it when no account has the mapped name.
    std::string user_as_sent;
    std::string password;
    std::uint64_t client = 0;  // the peer's address key (attempt_limiter.hpp)
    account_digest account;    // account_digest::of(user)

    login_request() = default;
    login_request(std::string_view user, std::string_view password, std::uint64_t client);
    static login_request from_head(const request_head& head, std::uint64_t client);

    // Moves swap: a moved std::string of up to 15 bytes (kept inside the object) would leave its
    // bytes behind in the moved-from one.
    login_request(login_request&& other) noexcept;
    login_request& operator=(login_request&& other) noexcept;
    login_request(const login_request&) = delete;
    login_request& operator=(const login_request&) = delete;
    ~login_request();  // wipes the password
};

}  // namespace authd
