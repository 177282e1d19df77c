#!/usr/bin/env bash
# The whole test suite: install what is missing, build (warnings are errors), run every test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset debug -DAUTHD_WERROR=ON >/dev/null
cmake --build --preset debug -j "$(nproc)"
ctest --preset debug -j "$(nproc)"
