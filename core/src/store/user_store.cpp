// user_store's defaults and the user name rules shared by every backend.
#include "authd/store/user_store.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>

#include "authd/util/text.hpp"

namespace authd {

std::optional<login_record> user_store::find_login(std::string_view name) {
    auto phc = find_hash(name);
    if (!phc) {
        return std::nullopt;
    }
    return login_record{std::move(*phc), 0};
}

namespace {

bool is_ascii_control(char c) noexcept {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f;
}

}  // namespace

bool valid_user_name(std::string_view name) noexcept {
    return !name.empty() && name.size() <= max_user_name_bytes && is_valid_utf8(name) &&
           std::none_of(name.begin(), name.end(), is_ascii_control);
}

bool user_name_has_outer_space(std::string_view name) noexcept {
    return !name.empty() && (name.front() == ' ' || name.back() == ' ');
}

}  // namespace authd
