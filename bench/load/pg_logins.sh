#!/usr/bin/env bash
# Logins/s on the PostgreSQL store next to the SQLite store, with a warm and a cold cache, and the
# cost of a cache miss (issue 5; docs/operations.md quotes its output).
#
#   bench/load/pg_logins.sh [BUILD_DIR]        BUILD_DIR holds server/authd, tools/authctl
#                                              (default: build/release)
#
# It starts a private PostgreSQL cluster (scripts/pg-cluster.sh) and, for each store in turn, one
# authd on 127.0.0.1 over the same USERS users; wrk sends logins cycling through all of them
# (bench/load/login.lua). For each store:
#   OWASP hashes (19 MiB, t=2), CONNECTIONS connections: logins/s with every record cached (a
#     first pass fills the cache) and with --cache-entries 1 (every login looks its user up);
#   cheap hashes (64 KiB, t=1), one connection: the time per login with a warm and a cold cache,
#     where hashing costs next to nothing, so their difference is what one cache miss costs.
# Each case runs ROUNDS times, the stores taking turns; the table shows medians. Prints a Markdown
# table. Environment: USERS [200], DURATION [5] (seconds per run), CONNECTIONS [16], ROUNDS [3].
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${1:-$root/build/release}"
: "${USERS:=200}" "${DURATION:=5}" "${CONNECTIONS:=16}" "${ROUNDS:=3}"
authd="$bin/server/authd"
authctl="$bin/tools/authctl"
for tool in "$authd" "$authctl"; do
    [[ -x $tool ]] || {
        echo "pg_logins.sh: $tool is missing (cmake --preset release && cmake --build --preset release)" >&2
        exit 1
    }
done
command -v wrk >/dev/null || {
    echo "pg_logins.sh: wrk is missing (apt-get install wrk)" >&2
    exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/authd-pg-bench.XXXXXX")
# Apart from tmp (mode 0700): as root, the cluster runs as the postgres user.
pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/authd-pg.XXXXXX")
authd_pid=
cleanup() {
    if [[ -n $authd_pid ]]; then
        kill "$authd_pid" 2>/dev/null || true
        wait "$authd_pid" 2>/dev/null || true
    fi
    "$root/scripts/pg-cluster.sh" remove "$pg_dir" || true
    rm -rf "$tmp"
}
trap cleanup EXIT

log() { printf '[pg_logins.sh %s] %s\n' "$(date +%T)" "$*" >&2; }

"$root/scripts/pg-cluster.sh" start "$pg_dir"
pg_uri=$(cat "$pg_dir/uri")
psql -X -q "$pg_uri" -c 'CREATE DATABASE authd_cheap'
"$authctl" key generate "$tmp/key"
for ((i = 1; i <= USERS; i++)); do printf 'u%d\tpw-%d\n' "$i" "$i"; done >"$tmp/users.tsv"

# The store of each backend/cost.
declare -A stores=(
    [sqlite/owasp]="sqlite:$tmp/owasp.db"
    [sqlite/cheap]="sqlite:$tmp/cheap.db"
    [postgresql/owasp]="$pg_uri"
    [postgresql/cheap]="${pg_uri%/*}/authd_cheap"
)
declare -A costs=([owasp]="--hash-memory 19MiB --hash-ops 2" [cheap]="--hash-memory 64KiB --hash-ops 1")

# Starts authd on store with cost and extra options; sets port. Each start logs to a file of its
# own: the shell may look for the port before the new process has opened (and emptied) a reused one.
starts=0
start_authd() {
    local store=$1 cost=$2
    shift 2
    starts=$((starts + 1))
    local err="$tmp/authd.$starts.err"
    # shellcheck disable=SC2086 # the cost options are words
    "$authd" --listen 127.0.0.1:0 --store "$store" --key-file "$tmp/key" ${costs[$cost]} \
        "$@" 2>"$err" &
    authd_pid=$!
    for _ in $(seq 100); do
        port=$(sed -n 's/.*"event":"listening".*"address":"127.0.0.1:\([0-9]*\)".*/\1/p' "$err" \
            2>/dev/null || true)
        [[ -n $port ]] && return
        sleep 0.05
    done
    log "authd did not start:"
    cat "$err" >&2
    exit 1
}

stop_authd() {
    kill "$authd_pid"
    wait "$authd_pid" || true
    authd_pid=
}

# Runs wrk; prints "logins/s p50_ms".
drive() {
    local connections=$1
    wrk -t1 -c"$connections" -d"${DURATION}s" -s "$here/login.lua" "http://127.0.0.1:$port/login" \
        -- "$USERS" | tail -n 1 |
        python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.0f %.3f" % (r["ok_per_s"], r["latency_ms"]["p50"]))'
}

# One login per user, so that every record is cached.
warm_up() {
    for ((i = 1; i <= USERS; i++)); do
        curl -s -o /dev/null -H "User-Name: u$i" -H "Password: pw-$i" "http://127.0.0.1:$port/login"
    done
}

for backend in sqlite postgresql; do
    for cost in owasp cheap; do
        log "$backend, $cost hashes: importing $USERS users"
        # shellcheck disable=SC2086
        "$authctl" --store "${stores[$backend/$cost]}" ${costs[$cost]} user import "$tmp/users.tsv" \
            >/dev/null 2>&1
    done
done

# One run of backend cost cache; appends its logins/s to runs[backend/cost/cache]. (Not in a
# subshell: cleanup must know the authd it started.)
measure() {
    local backend=$1 cost=$2 cache=$3 extra=() connections=1 outcome
    if [[ $cache == cold ]]; then extra=(--cache-entries 1); fi
    if [[ $cost == owasp ]]; then connections=$CONNECTIONS; fi
    start_authd "${stores[$backend/$cost]}" "$cost" "${extra[@]}"
    if [[ $cache == warm ]]; then warm_up; fi
    outcome=$(drive "$connections")
    stop_authd
    runs[$backend/$cost/$cache]+="${outcome%% *} "
}

# The stores take turns within each round, so that whatever else the machine does weighs on both
# alike; each case's figure is the median of its rounds.
declare -A runs
for ((round = 1; round <= ROUNDS; round++)); do
    for cost in owasp cheap; do
        for cache in warm cold; do
            for backend in sqlite postgresql; do
                log "round $round/$ROUNDS: $backend, $cost hashes, $cache cache"
                measure "$backend" "$cost" "$cache"
            done
        done
    done
done
declare -A result
for key in "${!runs[@]}"; do
    # shellcheck disable=SC2086 # one argument per run
    result[$key]=$(python3 -c "import statistics,sys; print('%.0f' % statistics.median(map(float, sys.argv[1:])))" ${runs[$key]})
done

# backend case -> microseconds per login with cheap hashes on one connection (1 / throughput)
per_login_us() {
    python3 -c "print('%.0f' % (1e6 / ${result[$1/cheap/$2]}))"
}
miss_us() { # backend -> what a cache miss adds to one login, in microseconds
    python3 -c "print('%.0f' % (1e6 / ${result[$1/cheap/cold]} - 1e6 / ${result[$1/cheap/warm]}))"
}

echo
echo "| store | logins/s, warm cache | logins/s, cold cache | µs per login, cheap hashes, warm / cold | a cache miss costs |"
echo "|---|---|---|---|---|"
for backend in sqlite postgresql; do
    printf '| %s | %s | %s | %s / %s | %s µs |\n' "$backend" \
        "${result[$backend/owasp/warm]}" "${result[$backend/owasp/cold]}" \
        "$(per_login_us "$backend" warm)" "$(per_login_us "$backend" cold)" "$(miss_us "$backend")"
done
echo
echo "$USERS users, median of $ROUNDS runs of $DURATION s, wrk -t1 (OWASP hashes: -c$CONNECTIONS; cheap hashes: -c1)," \
    "authd's default threads ($(nproc) cores), PostgreSQL 15 on the same machine (loopback)."
