// The integration tests' harness: the real authd and authctl binaries as child processes, and a
// small blocking HTTP/1.1 client on real sockets.
//
// Everything lives in namespace authd_it (authctl_test.cpp keeps its own helpers in an anonymous
// namespace). Nothing here uses authd's own code: the tests check authd from the outside.
//
// One include for the tests; its parts, by job, are in harness/: common.hpp (paths, shared
// helpers), processes.hpp (authctl, authd, nginx as child processes; the test's store and key),
// http_client.hpp (HTTP clients on real sockets), jwt.hpp (error bodies and tokens), fixture.hpp
// (the authd_test fixture), pg.hpp (a PostgreSQL database per test, the PgTest fixture),
// limits.hpp (the answers and audit lines of the brute-force limits).
#pragma once

#include "harness/common.hpp"
#include "harness/fixture.hpp"
#include "harness/http_client.hpp"
#include "harness/jwt.hpp"
#include "harness/limits.hpp"
#include "harness/pg.hpp"
#include "harness/processes.hpp"
