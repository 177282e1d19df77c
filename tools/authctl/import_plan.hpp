// authctl user import FILE: "NAME<TAB>PASSWORD" lines checked before anything is hashed, then
// hashed on every core.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "authd/crypto/password_hasher.hpp"
#include "authd/store/user_store.hpp"

namespace authctl {

// One valid line of an import file: its name as RFC 8265's profile gives it (to be stored), and
// its password, a view into the file's content.
struct import_entry {
    std::size_t line_number;
    std::string name;
    std::string_view password;
};

struct import_plan {
    std::vector<import_entry> entries;
    std::size_t skipped = 0;
};

// The valid lines of content; each invalid one is reported on standard error by its number (and
// counted in skipped), never echoed: it may hold a password.
import_plan plan_import(std::string_view content);

// Hashes every entry's password, on all cores: argon2id is made to be slow.
std::vector<authd::user_record> hash_all(const authd::password_hasher& hasher,
                                         const std::vector<import_entry>& entries);

}  // namespace authctl
