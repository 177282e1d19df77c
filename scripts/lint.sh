#!/usr/bin/env bash
# Formatting and static analysis of the tree, failing on any finding (run by scripts/test.sh):
#   - every C++ file git knows is formatted as .clang-format says (clang-format 14);
#   - clang-tidy 14 finds nothing with the checks .clang-tidy names in core/, server/ and tools/,
#     their headers included (the tests are left out: GoogleTest's macros make names the naming
#     check refuses).
# Usage: scripts/lint.sh [BUILD_DIR]   (default build/debug; it needs compile_commands.json, which
# every preset writes)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/debug}

for tool in clang-format-14 run-clang-tidy-14 clang-tidy-14 python3; do
  command -v "$tool" >/dev/null || { echo "lint: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done

listed=$(git ls-files '*.cpp' '*.hpp')
mapfile -t sources <<<"$listed"
if ((${#sources[@]} == 0)) || [[ -z ${sources[0]} ]]; then
  echo "lint: git lists no C++ file" >&2
  exit 1
fi
if ! clang-format-14 --dry-run --Werror "${sources[@]}"; then
  echo "lint: not formatted as .clang-format says (fix: clang-format-14 -i FILE...)" >&2
  exit 1
fi

if [[ ! -f $build/compile_commands.json ]]; then
  echo "lint: $build/compile_commands.json is missing (configure a preset first)" >&2
  exit 1
fi
# The tree's path as a regular expression (a checkout path may hold regex characters).
root=$(pwd | sed 's/[][\.*^$+?(){}|]/\\&/g')
status=0
run-clang-tidy-14 -clang-tidy-binary clang-tidy-14 -p "$build" -j "$(nproc)" -quiet \
  -header-filter="^$root/(core|server|tools)/" "^$root/(core|server|tools)/" \
  >"$build/clang-tidy.log" 2>&1 || status=$?
checked=$(grep -c '^clang-tidy-14 ' "$build/clang-tidy.log" || true)
if ((status != 0)) || grep -qE 'warning:|error:' "$build/clang-tidy.log"; then
  sed 's/\x1b\[[0-9;]*m//g' "$build/clang-tidy.log" | grep -E 'warning:|error:' | sort -u >&2 ||
    cat "$build/clang-tidy.log" >&2
  echo "lint: clang-tidy found the above (the whole output: $build/clang-tidy.log)" >&2
  exit 1
fi
echo "lint: ${#sources[@]} files formatted; clang-tidy clean (${checked:-?} files checked)" >&2
