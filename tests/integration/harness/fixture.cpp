#include "fixture.hpp"

#include <iostream>
#include <stdexcept>

namespace authd_it {

// --- fixture ---------------------------------------------------------------------------------

void authd_test::start(const authd_args& args) {
    server_ = std::make_unique<authd_process>(args.build(env_));
    if (!server_->wait_listening(10s)) {
        const auto text = server_->stderr_text();
        server_->terminate(5s);
        server_.reset();
        throw std::runtime_error("authd did not report listening within 10 s; its stderr:\n" +
                                 text);
    }
    // authd logs "listening" before it handles SIGTERM (LifecycleTest.
    // SigtermRightAfterListeningExits0): wait for that too, so that the tests' SIGTERM is the
    // graceful one they test. Not fatal when it cannot be seen.
    (void)server_->wait_signal_handling(5s);
}

int authd_test::stop_server() {
    if (!server_) {
        return -1;
    }
    const int status = server_->terminate(15s);
    return status;
}

void authd_test::TearDown() {
    if (!server_) {
        return;
    }
    if (!server_->exited()) {
        const int status = server_->terminate(15s);
        EXPECT_EQ(status, 0) << "authd's exit status after SIGTERM (-1: killed by signal "
                             << server_->term_signal() << ")";
    }
    if (HasFailure()) {
        auto text = server_->stderr_text();
        constexpr std::size_t keep = 6000;
        if (text.size() > keep) {
            text = "...\n" + text.substr(text.size() - keep);
        }
        std::cerr << "--- authd's standard error ---\n" << text << "--- end ---\n";
    }
    server_.reset();
}

}  // namespace authd_it
