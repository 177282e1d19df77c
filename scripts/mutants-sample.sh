#!/usr/bin/env bash
# Generated mutants (docs/testing.md, "Generated mutants"): a sample drawn with a fixed seed from
# every mutation site of the security-critical code, each planted in a copy of the tree, built and
# tested; a score and a report (build/mutagen/report.md).
#
#   scripts/mutants-sample.sh [--seed S] [--count N] [--ids ID...] [--lanes N]
#
# Self-sufficient from a clean clone: installs what it misses (the test command's packages, and
# ccache), starts a throw-away PostgreSQL cluster unless AUTHD_TEST_PG_URI names one (as
# scripts/test.sh does), and refuses to report a score when a test it relies on was skipped. It
# never edits the working tree: the mutants go into copies under build/mutagen/. Not part of
# scripts/test.sh: a sample of 240 takes one and a half to two and a half hours on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh ccache
pg_dir=""
cleanup() {
    if [[ -n $pg_dir ]]; then scripts/pg-cluster.sh remove "$pg_dir"; fi
}
trap cleanup EXIT
if [[ -z ${AUTHD_TEST_PG_URI:-} ]]; then
    pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/authd-pg.XXXXXX")
    scripts/pg-cluster.sh start "$pg_dir"
    AUTHD_TEST_PG_URI=$(cat "$pg_dir/uri")
    export AUTHD_TEST_PG_URI AUTHD_TEST_PG_DIR=$pg_dir
fi
python3 scripts/mutagen run "$@"
