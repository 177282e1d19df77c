#!/usr/bin/env bash
# The whole test suite: install what is missing, build (warnings are errors), check formatting
# and clang-tidy, run every test, the Debian package's test, then the suite again under
# sanitizers, then the fuzzer.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset debug -DAUTHD_WERROR=ON >/dev/null
cmake --build --preset debug -j "$(nproc)"
# Formatting (.clang-format) and clang-tidy (.clang-tidy's checks): any finding fails.
scripts/lint.sh build/debug

# A throw-away PostgreSQL cluster for the PostgreSQL tests (scripts/pg-cluster.sh), removed on exit.
pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/authd-pg.XXXXXX")
trap 'scripts/pg-cluster.sh remove "$pg_dir"' EXIT
scripts/pg-cluster.sh start "$pg_dir"
AUTHD_TEST_PG_URI=$(cat "$pg_dir/uri")
export AUTHD_TEST_PG_URI AUTHD_TEST_PG_DIR=$pg_dir

ctest --preset debug -j "$(nproc)"
# docs/openapi.yaml, linted (Redocly CLI; the server's answers are checked by OpenApi.* above).
scripts/openapi-check.sh

# The Debian package, built, checked with lintian, installed, used and removed on this machine
# (as root; docs/install.md).
if [[ $(id -u) -eq 0 ]]; then
    scripts/package-test.sh
else
    echo "test.sh: not root: the Debian package test (scripts/package-test.sh) is left out" >&2
fi

# The same suite under AddressSanitizer+UBSan, then ThreadSanitizer (build/asan, build/tsan), and
# the libFuzzer target over the request path for a bounded time (clang-14, build/fuzz).
scripts/sanitize.sh
scripts/fuzz.sh
