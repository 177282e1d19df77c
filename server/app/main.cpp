// authd: the login server's entry point. Its settings are parsed in config.cpp, the server is
// started and stopped in server.cpp; a hash worker's argon2 helper process starts here too.
#include <csignal>
#include <exception>
#include <iostream>
#include <optional>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "app/config.hpp"
#include "app/server.hpp"
#include "base/log.hpp"
#include "workers/hash_helper.hpp"

namespace {

constexpr int exit_usage = 2;
constexpr int exit_startup = 1;

// Each connection is a file descriptor: allow as many as the hard limit permits (as nginx's
// worker_rlimit_nofile does), so that --max-connections, not a default of 1024, is the bound.
void raise_file_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

}  // namespace

int main(int argc, char** argv) {
    using namespace authd::server;
    // Not dumpable, as ssh-agent: another process of the same user cannot read this one's memory
    // (/proc/PID/mem, ptrace), which holds the signing keys and passwords, and no core dump is
    // written. execve() makes a process dumpable again, so each hash helper sets it here too.
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if ((argc == 2 || argc == 3) && argv[1] == hash_helper_argument) {
        // A hash worker's argon2 process (server/workers/hash_helper.hpp): nothing else of authd
        // runs. Its one setting is the log level of the authd that started it.
        for (const auto level :
             {log_level::debug, log_level::info, log_level::warn, log_level::error}) {
            if (argc == 3 && argv[2] == level_name(level)) {
                set_log_level(level);
            }
        }
        return run_hash_helper(hash_helper_fd);
    }
    std::signal(SIGPIPE, SIG_IGN);
    raise_file_limit();
    setting_origins from;
    std::optional<server_config> config;
    try {
        config = parse_config(argc, argv, from, std::cout);
        if (!config) {
            return 0;
        }
    } catch (const std::exception& e) {
        std::cerr << "authd: " << e.what() << "\nTry 'authd --help'.\n";
        return exit_usage;
    }
    set_log_level(config->log);
    try {
        return run(*config);
    } catch (const std::exception& e) {
        std::cerr << "authd: " << respell(from, e.what()) << '\n';
        return exit_startup;
    }
}
