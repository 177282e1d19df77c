// The integration tests' fixture: a test with its own store and key, and an authd started on
// demand and stopped (and its exit status checked) at the end.
#pragma once

#include <cstdint>
#include <memory>

#include <gtest/gtest.h>

#include "processes.hpp"

namespace authd_it {

// --- fixture ---------------------------------------------------------------------------------

// A test with its own store and key (env_), and an authd started on demand. TearDown sends
// SIGTERM to a running authd and expects exit status 0.
class authd_test : public ::testing::Test {
  protected:
    void TearDown() override;

    // Starts authd with args and waits for it to listen (and to handle SIGTERM: see
    // authd_process::wait_signal_handling); throws, failing the test, when it does not listen.
    void start(const authd_args& args = {});
    std::uint16_t port() const { return server_->port(); }
    authd_process& server() { return *server_; }

    // SIGTERM and wait; returns the exit status (the server is then gone).
    int stop_server();

    test_env env_;
    std::unique_ptr<authd_process> server_;
};

}  // namespace authd_it
