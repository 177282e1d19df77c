#!/usr/bin/env bash
# Mutation testing of the security-critical paths (docs/testing.md, tests/mutants/README.md).
#
#   scripts/mutants.sh [--build DIR] [-j N] [--no-fallback] [--list] [NAME...]
#
# Each tests/mutants/NAME.mutant (format: tests/mutants/README.md) names a source file, a snippet
# of it (which must occur exactly once) and its replacement. In turn, each mutant is applied to the
# source tree, built incrementally in its own build directory (--build, default build/mutants: a
# Debug build, warnings are errors; -j, default 2), and the tests it names run (a ctest regex);
# when they all pass, the whole suite runs (unless --no-fallback). A failing test kills the
# mutant; its ctest output is kept in DIR/mutants-logs/NAME.log. The original file is put back
# after each mutant and on any exit (trap), with a fresh modification time so that the next build
# recompiles it. Before any mutant, the named tests must pass on the tree as it is.
# Exit status: 0 when every mutant was killed, 1 when one survived, 2 on a usage error, a snippet
# not found exactly once, a mutant that does not build, or a named test that fails anyway. It
# starts a throw-away PostgreSQL cluster unless AUTHD_TEST_PG_URI names one, and gives no verdict
# where a test it ran skipped (but for tests/mutants/expected-skips.txt's).
set -euo pipefail
cd "$(dirname "$0")/.."
build=build/mutants
jobs=2
fallback=1
list=0
names=()
while [[ $# -gt 0 ]]; do
    arg=$1
    shift
    case $arg in
        --build)
            build=${1:?--build needs a directory}
            shift
            ;;
        -j)
            jobs=${1:?-j needs a number}
            shift
            ;;
        --no-fallback) fallback=0 ;;
        --list) list=1 ;;
        -h | --help)
            sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        -*)
            echo "mutants.sh: unknown option $arg" >&2
            exit 2
            ;;
        *) names+=("${arg%.mutant}") ;;
    esac
done
if [[ ${#names[@]} -eq 0 ]]; then
    for f in tests/mutants/*.mutant; do
        names+=("$(basename "$f" .mutant)")
    done
fi

tool=scripts/mutant.py
# Every selected mutant is checked before anything is built: a moved or edited snippet is an error
# naming the mutant, not a silent "survived".
bad=0
for n in "${names[@]}"; do
    if [[ ! -f tests/mutants/$n.mutant ]]; then
        echo "mutants.sh: no mutant $n (tests/mutants/$n.mutant)" >&2
        bad=1
    elif ! python3 "$tool" check "tests/mutants/$n.mutant"; then
        bad=1
    fi
done
[[ $bad -eq 0 ]] || exit 2
if [[ $list -eq 1 ]]; then
    for n in "${names[@]}"; do
        printf '%-40s %s\n' "$n" "$(python3 "$tool" field "tests/mutants/$n.mutant" file)"
    done
    exit 0
fi

saved=""
saved_file=""
restore() {
    if [[ -n $saved_file ]]; then
        cat "$saved" >"$saved_file"  # a new mtime: the next build recompiles it
        saved_file=""
    fi
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/authd-mutants.XXXXXX")
pg_dir=""
cleanup() {
    restore
    rm -rf "$tmp"
    if [[ -n $pg_dir ]]; then scripts/pg-cluster.sh remove "$pg_dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
saved=$tmp/original

# The PostgreSQL tests need a cluster, as in scripts/test.sh: without one they skip, and a mutant
# only they kill would "survive". Started here unless AUTHD_TEST_PG_URI names one.
if [[ -z ${AUTHD_TEST_PG_URI:-} ]]; then
    pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/authd-pg.XXXXXX")
    scripts/pg-cluster.sh start "$pg_dir" >&2
    AUTHD_TEST_PG_URI=$(cat "$pg_dir/uri")
    export AUTHD_TEST_PG_URI AUTHD_TEST_PG_DIR=$pg_dir
fi

if [[ ! -f $build/CMakeCache.txt ]]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DAUTHD_WERROR=ON >/dev/null
fi
# Every test executable (so that the fallback runs the whole suite, not placeholders of tests
# that were never built, which ctest counts as failures: a false kill); the benchmarks are not
# tests of a property and stay out (ctest -LE bench).
targets=(authd authctl authd_unit_tests authd_integration_tests authd_argon2_memory_tests
    authd_argon2_memory_off_tests)
if ! cmake --build "$build" -j "$jobs" --target "${targets[@]}" >"$tmp/build.log" 2>&1; then
    cat "$tmp/build.log" >&2
    echo "mutants.sh: the unmutated tree does not build" >&2
    exit 2
fi

# ctest over the build; prints the failing tests' names, comma-separated (empty when all passed).
run_tests() {
    local regex=$1 out=$tmp/ctest.log
    if [[ -n $regex ]]; then
        ctest --test-dir "$build" -R "$regex" -j "$jobs" --output-on-failure >"$out" 2>&1 || true
        if grep -q 'No tests were found' "$out"; then
            echo "mutants.sh: no test matches '$regex'" >&2
            echo "!no-tests"
            return
        fi
    else
        ctest --test-dir "$build" -LE bench -j "$jobs" --output-on-failure >"$out" 2>&1 || true
    fi
    # A test that skipped proves nothing: the run is refused unless tests/mutants/
    # expected-skips.txt says why that test skips here (root ignores file modes, say).
    local skipped
    skipped=$(sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\) (Skipped)$/\1/p' "$out" |
        grep -vxF -f <(sed -n 's/^\([^#[:space:]][^[:space:]]*\).*/\1/p' tests/mutants/expected-skips.txt) || true)
    if [[ -n $skipped ]]; then
        echo "mutants.sh: these tests skipped, so no verdict: $(echo "$skipped" | paste -sd, -)" >&2
        echo "!skipped"
        return
    fi
    # "  12 - LoginTest.Foo (Failed)" under "The following tests FAILED:"
    sed -n '/The following tests FAILED:/,$p' "$out" | sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\) .*/\1/p' |
        paste -sd, -
}

# The named tests pass on the tree as it is: a test that fails anyway (a broken environment, a
# flaky test) would kill every mutant that names it and prove nothing.
regexes=()
for n in "${names[@]}"; do
    regexes+=("$(python3 "$tool" field "tests/mutants/$n.mutant" tests)")
done
baseline=$(IFS='|'; run_tests "${regexes[*]}")
if [[ $baseline == "!skipped" ]]; then
    exit 2
fi
if [[ -n $baseline ]]; then
    echo "mutants.sh: without any mutant, these named tests fail: $baseline" >&2
    echo "mutants.sh: (output in $tmp/ctest.log, kept as $build/mutants-baseline.log)" >&2
    cp "$tmp/ctest.log" "$build/mutants-baseline.log"
    exit 2
fi

# The last ctest output of each mutant, for a look at what killed it.
logs=$build/mutants-logs
mkdir -p "$logs"
start=$(date +%s)
killed=0
survived=()
errors=()
for n in "${names[@]}"; do
    m=tests/mutants/$n.mutant
    file=$(python3 "$tool" field "$m" file)
    regex=$(python3 "$tool" field "$m" tests)
    t0=$(date +%s)
    cp "$file" "$saved"
    saved_file=$file
    python3 "$tool" apply "$m"
    if ! cmake --build "$build" -j "$jobs" --target "${targets[@]}" >"$tmp/build.log" 2>&1; then
        restore
        tail -20 "$tmp/build.log" >&2
        echo "ERROR    $n: the mutant does not build"
        errors+=("$n")
        continue
    fi
    how="named"
    killer=$(run_tests "$regex")
    if [[ $killer == "!skipped" ]]; then
        restore
        echo "ERROR    $n: tests it relies on skipped"
        errors+=("$n")
        continue
    fi
    if [[ $killer == "!no-tests" ]]; then
        restore
        echo "ERROR    $n: its tests regex matches no test"
        errors+=("$n")
        continue
    fi
    if [[ -z $killer && $fallback -eq 1 ]]; then
        how="suite"
        killer=$(run_tests "")
        if [[ $killer == "!skipped" ]]; then
            restore
            echo "ERROR    $n: tests of the suite skipped"
            errors+=("$n")
            continue
        fi
    fi
    restore
    cp "$tmp/ctest.log" "$logs/$n.log"
    if [[ $how == "suite" && -n $killer ]]; then
        # Killed by a test the mutant does not name: credited only if that test passes on the
        # unmutated tree (else it is flaky, or broken here, and proves nothing).
        cmake --build "$build" -j "$jobs" --target "${targets[@]}" >"$tmp/build.log" 2>&1 || true
        again=$(run_tests "^($(echo "$killer" | sed 's/[][\.*^$+?(){}|]/\\&/g; s/,/|/g'))\$")
        if [[ -n $again ]]; then
            secs=$(($(date +%s) - t0))
            survived+=("$n")
            echo "FLAKY    $n: $killer failed on the unmutated tree too, not credited (${secs}s)"
            continue
        fi
    fi
    secs=$(($(date +%s) - t0))
    if [[ -n $killer ]]; then
        killed=$((killed + 1))
        echo "KILLED   $n by $killer ($how tests, ${secs}s)"
    else
        survived+=("$n")
        echo "SURVIVED $n (${secs}s)"
    fi
done
# The tree as it was, built (so that a later incremental build does not start from a mutant).
cmake --build "$build" -j "$jobs" --target "${targets[@]}" >"$tmp/build.log" 2>&1 || true

total=${#names[@]}
echo "mutants: $killed of $total killed, ${#survived[@]} survived, ${#errors[@]} errors," \
    "$(($(date +%s) - start)) s"
[[ ${#survived[@]} -eq 0 ]] || echo "survived: ${survived[*]}"
[[ ${#errors[@]} -eq 0 ]] || { echo "errors: ${errors[*]}"; exit 2; }
[[ ${#survived[@]} -eq 0 ]]
