#!/usr/bin/env bash
# The whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer (preset "asan"), then
# under ThreadSanitizer (preset "tsan"): each builds the whole tree in its own build directory
# (build/asan, build/tsan) and runs every ctest test. Both runs happen even when the first fails;
# the last lines say which run failed, and the exit status is non-zero if any did.
# Usage: scripts/sanitize.sh [asan|tsan]...   (default: both)
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh || exit 1

presets=("$@")
if ((${#presets[@]} == 0)); then presets=(asan tsan); fi

declare -A names=([asan]="ASan+UBSan" [tsan]="TSan")
summary=()
failed=0
for preset in "${presets[@]}"; do
  name=${names[$preset]:-}
  if [[ -z $name ]]; then
    echo "sanitize: unknown preset '$preset' (expected asan or tsan)" >&2
    exit 2
  fi
  echo "sanitize: === $name (preset $preset) ===" >&2
  start=$SECONDS
  step=configure
  if cmake --preset "$preset" -DAUTHD_WERROR=ON >/dev/null; then
    step=build
    if cmake --build --preset "$preset" -j "$(nproc)"; then
      step=test
      ctest --preset "$preset" -j "$(nproc)" && step=
    fi
  fi
  took=$((SECONDS - start))
  if [[ -z $step ]]; then
    summary+=("sanitize: $name passed (${took} s)")
  else
    summary+=("sanitize: $name FAILED at $step (${took} s; build/$preset)")
    failed=1
  fi
done
printf '%s\n' "${summary[@]}"
exit "$failed"
