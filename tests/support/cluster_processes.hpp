// The processes of a PostgreSQL cluster the test started itself (scripts/pg-cluster.sh), for the
// tests of a server that hangs (tests/unit/store/pg_store_test.cpp, tests/integration/pg_test.cpp).
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/types.h>
#include <vector>

namespace authd_pg_test {

// The processes of a private cluster (its postmaster and every child), stopped with SIGSTOP and
// resumed with SIGCONT: a server that hangs with its connections open.
inline std::vector<pid_t> cluster_processes(const std::string& data_dir) {
    std::ifstream pid_file(data_dir + "/postmaster.pid");
    pid_t postmaster = 0;
    pid_file >> postmaster;
    std::vector<pid_t> pids{postmaster};
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const auto name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        std::ifstream stat(entry.path() / "stat");
        std::string line;
        std::getline(stat, line);
        const auto close = line.rfind(')');
        if (close == std::string::npos) {
            continue;
        }
        std::istringstream rest(line.substr(close + 2));
        char state = 0;
        pid_t parent = 0;
        rest >> state >> parent;
        if (parent == postmaster) {
            pids.push_back(static_cast<pid_t>(std::stol(name)));
        }
    }
    return pids;
}

}  // namespace authd_pg_test
