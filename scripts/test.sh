#!/usr/bin/env bash
# The whole test suite: install what is missing, build (warnings are errors), check formatting
# and clang-tidy, run every test, the Debian package's test, then the suite again under
# sanitizers, then the fuzzer.
#
# A ctest run spends most of its time waiting on sockets and timers (the debug run keeps about a
# third of two cores busy), so the next step that only computes (clang-tidy, the next build) runs
# beside it at the lowest CPU priority (nice 19): it takes the CPU the tests leave idle, and the
# tests, hash workers included (nice 10), win it whenever they want it. Each step's time is
# printed ("test.sh: ... s").
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
step_started=$SECONDS
took() {  # WHAT: the time since the last call
    echo "test.sh: $1: $((SECONDS - step_started)) s (${SECONDS} s in all)" >&2
    step_started=$SECONDS
}

build() {  # PRESET: configure (warnings are errors) and build
    cmake --preset "$1" -DAUTHD_WERROR=ON >/dev/null
    cmake --build --preset "$1" -j "$(nproc)"
}
export -f build

# Commands beside the foreground (a bash script, which may call build), in their own process
# group (so that they can be stopped whole), their output kept in a file and shown when joined.
beside_pid=""
beside_what=""
beside_log=""
beside() {  # WHAT SCRIPT
    beside_what=$1
    beside_log=$(mktemp "${TMPDIR:-/tmp}/authd-test-beside.XXXXXX")
    setsid nice -n 19 bash -euo pipefail -c "$2
        echo \"test.sh: $1 (beside) was done in \$SECONDS s\"" >"$beside_log" 2>&1 &
    beside_pid=$!
    beside_started=$SECONDS
}
joined() {  # waits for the command beside(); fails as it failed
    local status=0
    wait "$beside_pid" || status=$?
    beside_pid=""
    cat "$beside_log" >&2
    rm -f "$beside_log"
    if ((status != 0)); then
        echo "test.sh: FAILED: $beside_what (exit status $status)" >&2
        exit 1
    fi
    echo "test.sh: $beside_what (beside) joined after $((SECONDS - beside_started)) s" >&2
}
pg_dir=""
cleanup() {
    if [[ -n $beside_pid ]]; then kill -- "-$beside_pid" 2>/dev/null || true; fi
    if [[ -n $pg_dir ]]; then scripts/pg-cluster.sh remove "$pg_dir"; fi
}
trap cleanup EXIT

scripts/install-deps.sh
took "install-deps"
build debug
took "debug build (GCC)"

# A throw-away PostgreSQL cluster for the PostgreSQL tests (scripts/pg-cluster.sh), removed on exit.
pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/authd-pg.XXXXXX")
scripts/pg-cluster.sh start "$pg_dir"
AUTHD_TEST_PG_URI=$(cat "$pg_dir/uri")
export AUTHD_TEST_PG_URI AUTHD_TEST_PG_DIR=$pg_dir

# Formatting (.clang-format) and clang-tidy (.clang-tidy's checks): any finding fails. And
# docs/openapi.yaml, linted (Redocly CLI; the server's answers are checked by OpenApi.* tests).
beside "lint and openapi-check" "scripts/lint.sh build/debug; scripts/openapi-check.sh"
ctest --preset debug -j "$(nproc)"
took "debug tests"
joined

# The same suite under AddressSanitizer+UBSan (GCC), then ThreadSanitizer (clang), each built
# while the run before it goes on (scripts/sanitize.sh runs them alone).
build asan
took "ASan+UBSan build"
beside "TSan build" "build tsan"
ctest --preset asan -j "$(nproc)"
took "ASan+UBSan tests"
joined
# Beside the TSan run: the fuzz target (clang, libraries only) and, where the package test runs
# (as root, below), the Debian package's release.
if [[ $(id -u) -eq 0 ]]; then
    beside "fuzz and package builds" "build fuzz; AUTHD_WERROR=ON scripts/package.sh"
else
    beside "fuzz build" "build fuzz"
fi
ctest --preset tsan -j "$(nproc)"
took "TSan tests"
joined

# The Debian package, checked with lintian, installed, used and removed on this machine (as root;
# docs/install.md).
if [[ $(id -u) -eq 0 ]]; then
    scripts/package-test.sh
else
    echo "test.sh: not root: the Debian package test (scripts/package-test.sh) is left out" >&2
fi
took "package test"
# The libFuzzer target over the request path for a bounded time (clang 14, build/fuzz).
scripts/fuzz.sh
took "fuzz"
echo "test.sh: passed in $((SECONDS - started)) s" >&2
