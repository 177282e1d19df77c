// New names: an imported one's checks, and the warning for one that looks like another (UTS #39
// skeletons, user_name_profile.hpp).
#include <cstdint>
#include <functional>
#include <iostream>
#include <string>
#include <string_view>

#include "authd/store/user_name_profile.hpp"
#include "authd/store/user_store.hpp"

#include "authctl.hpp"

namespace authctl {

std::string imported_name_problem(std::string_view name, std::string& stored) {
    if (!authd::valid_user_name(name)) {
        return "invalid user name";
    }
    if (authd::user_name_has_outer_space(name)) {
        return "user name begins or ends with a space, which HTTP strips: it could never log in";
    }
    auto enforced = authd::enforce_user_name(name);
    if (!enforced) {
        return "invalid user name: " + enforced.problem + " (RFC 8265's user names)";
    }
    stored = std::move(enforced.name);
    return {};
}

namespace {

std::uint64_t digest(const std::string& skeleton) {
    return std::hash<std::string>{}(skeleton);
}

}  // namespace

lookalike_names::lookalike_names(authd::user_store& store) {
    store.for_each_name([this](std::string_view name) {
        by_skeleton_.try_emplace(digest(authd::user_name_skeleton(name)), name);
    });
}

const std::string* lookalike_names::check(const std::string& name) {
    const auto skeleton = authd::user_name_skeleton(name);
    const auto [seen, inserted] = by_skeleton_.try_emplace(digest(skeleton), name);
    if (inserted || seen->second == name) {
        return nullptr;
    }
    // One digest: one skeleton, unless two skeletons' 64-bit digests collide.
    return authd::user_name_skeleton(seen->second) == skeleton ? &seen->second : nullptr;
}

void warn_lookalike(const std::string& name, const std::string& other) {
    std::cerr << "authctl: warning: user " << authd::printable_user_name(name)
              << " looks like the user " << authd::printable_user_name(other)
              << " (Unicode's confusable characters, UTS #39): a reader of a log or a list may "
                 "take one for the other\n";
}

void warn_if_lookalike(lookalike_names& names, const std::string& name) {
    if (const auto* other = names.check(name)) {
        warn_lookalike(name, *other);
    }
}

}  // namespace authctl
