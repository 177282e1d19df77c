#!/usr/bin/env bash
# Builds the libFuzzer target with clang (preset "fuzz": authd's libraries with clang++-14,
# coverage instrumentation, ASan+UBSan, warnings as errors; not the tests) and runs it for a
# bounded time over a copy of the seed corpus (ctest's fuzz_request, 30 s by default;
# AUTHD_FUZZ_SECONDS=N changes it).
# A crash's reproducer is left in build/fuzz/tests/fuzz/fuzz_request/artifacts/; replay it with
#   build/fuzz/tests/fuzz/authd_request_fuzz FILE
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
if ! command -v clang++-14 >/dev/null; then
  echo "fuzz: clang++-14 not found (scripts/install-deps.sh installs clang-14)" >&2
  exit 1
fi
cmake --preset fuzz -DAUTHD_WERROR=ON -DAUTHD_FUZZ_SECONDS="${AUTHD_FUZZ_SECONDS:-30}" >/dev/null
cmake --build --preset fuzz -j "$(nproc)"
ctest --preset fuzz
