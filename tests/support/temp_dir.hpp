// A fresh directory under /tmp for a unit test, removed with everything in it.
#pragma once

#include <cerrno>
#include <filesystem>
#include <stdlib.h>
#include <string>
#include <system_error>

namespace authd_unit_test {

class temp_dir {
  public:
    temp_dir() {
        std::string name = "/tmp/authd-store-test-XXXXXX";
        if (mkdtemp(name.data()) == nullptr) {
            throw std::system_error(errno, std::generic_category(), "mkdtemp");
        }
        path_ = name;
    }
    ~temp_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const std::string& path() const noexcept { return path_; }

  private:
    std::string path_;
};

}  // namespace authd_unit_test
