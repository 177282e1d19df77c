#include "authd/login/login_request.hpp"

#include "authd/crypto/secret.hpp"
#include "authd/store/user_name_profile.hpp"

namespace authd {

// The account the name means, as a new account's name is stored (user_name_profile.hpp): every
// form of one name ("ｊｏｈｎ", "john") counts against one budget and reaches one account.
login_request::login_request(std::string_view user_name, std::string_view pass,
                             std::uint64_t client_key)
    : user(login_user_name(user_name)),
      password(pass),
      client(client_key),
      account(account_digest::of(user)) {
    if (user != user_name) {
        user_as_sent = user_name;
    }
}

login_request login_request::from_head(const request_head& head, std::uint64_t client) {
    return {head.user_name.value, head.password.value, client};
}

login_request::login_request(login_request&& other) noexcept {
    *this = std::move(other);
}

login_request& login_request::operator=(login_request&& other) noexcept {
    if (this != &other) {
        wipe(password);
        user.swap(other.user);
        user_as_sent.swap(other.user_as_sent);
        password.swap(other.password);
        client = other.client;
        account = other.account;
    }
    return *this;
}

login_request::~login_request() {
    wipe(password);
}

}  // namespace authd
