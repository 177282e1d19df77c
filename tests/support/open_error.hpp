// Why a store URI does not open: the store_error's message (or "(no store_error)"), for tests of
// opening failures of either backend.
#pragma once

#include <string>

#include "authd/store/store_backend.hpp"

namespace authd_test_support {

inline std::string open_error(const std::string& uri) {
    try {
        authd::open_store(uri);
    } catch (const authd::store_error& e) {
        return e.what();
    }
    return "(no store_error)";
}

}  // namespace authd_test_support
