#!/usr/bin/env bash
# authd's load harness: one command runs every case side by side on 127.0.0.1 and prints a table
# of ratios (bench/load/README.md says what each case measures and how to read it).
#
#   bench/load/run.sh [--quick] [--no-build] [--keep-tmp]
#
# It uses the release build in build/release (cmake --preset release && cmake --build --preset
# release); only when a binary is missing does it run those two commands itself. It starts authd,
# nginx and the clients itself, on free loopback ports, and stops all of them on exit. Results go
# to bench/load/results/runs/<time>/ (raw files and summary.md); a full run also copies its
# summary.md and login_latency.png to bench/load/results/.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
    cat <<'EOF'

Options:
  --quick      short runs (about a minute) to check that everything works; numbers are rough
  --no-build   never run cmake, fail if a binary is missing
  --keep-tmp   keep the temporary directory (store, key, nginx prefix, logs)
  -h, --help   print this help

Environment (defaults in brackets, --quick ones second):
  ROUNDS [3]  CHEAP_DURATION [5 | 2]  CHEAP_CONNECTIONS [64]  USERS [500 | 100]
  LOGIN_ROUNDS [5 | 2]  LOGIN_DURATION [10 | 5]  LOGIN_CONNECTIONS [16]  PACED_INTERVAL_MS [5]
  BOUND_MIN_TIME [1.5 | 0.3]  (seconds of authd_bench_hash for each timing of t_kept)
  IDLE_CONNECTIONS [10000]  SWEEP_PERCENTS ["20 40 60 80 95 110" | "20 50 80 110"]
  SWEEP_DURATION [8 | 2]
EOF
}

quick=0
build=1
keep_tmp=0
command_line="bench/load/run.sh${*:+ $*}"
while (($#)); do
    case "$1" in
        --quick) quick=1 ;;
        --no-build) build=0 ;;
        --keep-tmp) keep_tmp=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            echo "run.sh: unknown option '$1'" >&2
            usage >&2
            exit 2
            ;;
    esac
    shift
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$root/build/release"
harness=(python3 "$here/harness.py")

if ((quick)); then
    : "${CHEAP_DURATION:=2}" "${USERS:=100}" "${LOGIN_DURATION:=5}" "${SWEEP_DURATION:=2}"
    : "${IDLE_PACED_DURATION:=2}" "${BENCH_MIN_TIME:=0.2}" "${BENCH_REPETITIONS:=1}"
    : "${LOGIN_ROUNDS:=2}" "${BOUND_MIN_TIME:=0.3}"
    : "${SWEEP_PERCENTS:=20 50 80 110}"
else
    : "${CHEAP_DURATION:=5}" "${USERS:=500}" "${LOGIN_DURATION:=10}" "${SWEEP_DURATION:=8}"
    : "${IDLE_PACED_DURATION:=4}" "${BENCH_MIN_TIME:=0.3}" "${BENCH_REPETITIONS:=5}"
    : "${LOGIN_ROUNDS:=5}" "${BOUND_MIN_TIME:=1.5}"
fi
: "${ROUNDS:=3}" "${CHEAP_CONNECTIONS:=64}" "${LOGIN_CONNECTIONS:=16}" "${PACED_INTERVAL_MS:=5}"
: "${IDLE_CONNECTIONS:=10000}" "${SWEEP_PERCENTS:=20 40 60 80 95 110}"

log() { printf '[run.sh %s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# --- prerequisites ------------------------------------------------------------------------------

for tool in wrk nginx python3 timeout; do
    command -v "$tool" >/dev/null || die "$tool is missing (apt-get install -y wrk nginx-light python3)"
done
command -v gnuplot >/dev/null || log "gnuplot is missing: no plot (apt-get install -y gnuplot-nox)"

need=(server/authd tools/authctl tools/authd_paced_client)
missing() {
    local b
    for b in "${need[@]}"; do
        [[ -x "$bin/$b" ]] || return 0
    done
    return 1
}
if ((build)) && missing; then
    log "building the release binaries (cmake --preset release && cmake --build --preset release)"
    (cd "$root" && cmake --preset release >/dev/null &&
        cmake --build --preset release -j "$(nproc)" --target authd authctl authd_paced_client)
fi
missing && die "missing in $bin: ${need[*]} (cmake --preset release && cmake --build --preset release)"
if ((build)) && [[ ! -x "$bin/bench/authd_bench_hash" ]]; then
    (cd "$root" && cmake --build --preset release -j "$(nproc)" --target authd_bench_hash \
        >/dev/null 2>&1) ||
        log "authd_bench_hash is not built (AUTHD_BUILD_BENCH=OFF?): the hash bound comes from the import"
fi

# Two cores or more: servers on CPU 0, clients on CPU 1 for the cases that compare one server
# thread with one nginx worker. The login cases are never pinned: authd's hash workers use every
# core, as they would in production.
pin_server=()
pin_client=()
# shellcheck disable=SC2034 # used through a nameref in start_authd
pin_none=()
cores=$(nproc)
if command -v taskset >/dev/null && ((cores >= 2)); then
    pin_server=(taskset -c 0)
    pin_client=(taskset -c 1)
    pinning="cheap path and memory: servers on CPU 0, clients on CPU 1 (taskset); logins unpinned"
else
    pinning="none (taskset missing or a single core)"
fi

# File descriptors for IDLE_CONNECTIONS connections on each side; the hard limit caps it.
hard=$(ulimit -Hn)
[[ "$hard" == unlimited ]] && hard=1048576
nofile=$((hard < 65536 ? hard : 65536))
ulimit -n "$nofile"
if ((IDLE_CONNECTIONS + 256 > nofile)); then
    IDLE_CONNECTIONS=$((nofile - 256))
    log "ulimit -n is $nofile: memory case with $IDLE_CONNECTIONS connections"
fi
nginx_connections=$((nofile < 20000 ? nofile : 20000))

# authd's options change as it grows: use the ones this binary has. Connections past
# --max-connections would be refused (503) in the memory case, so it gets room for them; nginx
# closes a keep-alive connection after as many requests as authd does (both reconnect alike).
authd_help=$("$bin/server/authd" --help 2>&1 || true)
authd_default() { sed -n "s/^ *--$1 arg (=\([0-9]*\)).*/\1/p" <<<"$authd_help" | head -n 1; }
cheap_args=(--threads 1)
if grep -q -- '--max-connections ' <<<"$authd_help"; then
    cheap_args+=(--max-connections $((IDLE_CONNECTIONS + 1000)))
fi
# Case 1b presents one token for the whole run: its lifetime must outlast the run.
if grep -q -- '--token-ttl ' <<<"$authd_help"; then
    cheap_args+=(--token-ttl 1h)
fi
keepalive_requests=$(authd_default max-requests-per-connection)
: "${keepalive_requests:=100000000}"

# --- state, cleanup ------------------------------------------------------------------------------

work=""
stamp="$(date +%Y%m%d-%H%M%S)"
((quick)) && stamp+="-quick"
run="$here/results/runs/$stamp"
mkdir -p "$run/cheap" "$run/verify" "$run/forward-auth" "$run/login" "$run/sweep"
pids=()
# Set by start_authd and start_nginx.
authd_cheap_pid="" authd_cheap_port="" authd_login_pid="" authd_login_port="" nginx_pid="" nginx_port=""
# Set before start_nginx: authd's /verify body for the token of case 1b (nginx.conf.in).
verify_body="" verify_token=""

# Stops one process we started: SIGTERM, up to $2 seconds (5), then SIGKILL; sets stop_status
# to its exit status (not in a subshell: only this shell can wait for its children).
stop_status=0
declare -A stopped=()
stop_pid() {
    local pid=$1 limit=${2:-5} i state
    stopped[$pid]=1
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < limit * 10; i++)); do
        state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo gone)
        [[ "$state" == gone || "$state" == Z ]] && break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    stop_status=0
    wait "$pid" 2>/dev/null || stop_status=$?
}

cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do
        if [[ -z "${stopped[$pid]:-}" ]] && kill -0 "$pid" 2>/dev/null; then
            stop_pid "$pid" 5
        fi
    done
    if [[ -n "$work" ]] && ((keep_tmp)); then
        log "temporary files kept in $work"
    elif [[ -n "$work" ]]; then
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
work="$(mktemp -d /tmp/authd-load.XXXXXX)"

meta() { printf '%s\t%s\n' "$1" "$2" >>"$run/meta.tsv"; }
# CPU time (user + system, in clock ticks) a process and its children processes (nginx's workers)
# have used: the fields after the command name of /proc/PID/stat.
cpu_ticks() {
    local total=0 pid fields
    for pid in "$1" $(ps -o pid= --ppid "$1"); do
        fields=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
        total=$((total + $(awk '{print $12 + $13}' <<<"$fields")))
    done
    echo "$total"
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# The first numeric value of "NAME" in the JSON line(s) of a file, for the progress log.
json_field() { grep -o "\"$1\":[0-9.]*" "$2" | head -n 1 | cut -d: -f2 || true; }
# nginx: the master and its workers.
nginx_rss_kb() {
    local total pid
    total=$(rss_kb "$1")
    for pid in $(ps -o pid= --ppid "$1"); do
        total=$((total + $(rss_kb "$pid" || echo 0)))
    done
    echo "$total"
}

# Starts authd as NAME, prefixed by the command in the array named PIN (taskset or nothing), with
# the extra arguments that follow; waits for its "listening" line and sets NAME_pid, NAME_port.
start_authd() {
    local name=$1 pin_name=$2
    shift 2
    local -n pin_ref=$pin_name
    local logfile="$run/$name.log" i port=""
    : >"$logfile"  # exists before the background job opens it, for the sed below
    "${pin_ref[@]}" "$bin/server/authd" --listen 127.0.0.1:0 --store "sqlite:$work/db" \
        --key-file "$work/key" --hash-memory 19MiB --hash-ops 2 "$@" 2>"$logfile" &
    local pid=$!
    pids+=("$pid")
    for ((i = 0; i < 100; i++)); do
        port=$(sed -n 's/.*"event":"listening".*"address":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' \
            "$logfile" | head -n 1 || true)
        [[ -n "$port" ]] && break
        kill -0 "$pid" 2>/dev/null || die "$name exited at start: $(tail -n 3 "$logfile")"
        sleep 0.1
    done
    [[ -n "$port" ]] || die "$name did not report its port in 10 s"
    printf -v "${name}_pid" '%s' "$pid"
    printf -v "${name}_port" '%s' "$port"
    log "$name listening on 127.0.0.1:$port (pid $pid)"
}

start_nginx() {
    local prefix="$work/nginx" attempt port pid
    mkdir -p "$prefix"
    for attempt in 1 2 3; do
        port=$("${harness[@]}" free-port)
        sed -e "s/@PORT@/$port/" -e "s/@CONNECTIONS@/$nginx_connections/" \
            -e "s/@NOFILE@/$nofile/" -e "s/@KEEPALIVE_REQUESTS@/$keepalive_requests/" \
            -e "s/@VERIFY_BODY@/$verify_body/" -e "s/@VERIFY_USER@/u1/" \
            "$here/nginx.conf.in" >"$prefix/nginx.conf"
        "${pin_server[@]}" nginx -p "$prefix/" -c "$prefix/nginx.conf" -e "$prefix/error.log" \
            >>"$run/nginx.log" 2>&1 &
        pid=$!
        pids+=("$pid")
        if "${harness[@]}" wait-port "$port" 10 && kill -0 "$pid" 2>/dev/null; then
            nginx_pid=$pid
            nginx_port=$port
            log "nginx listening on 127.0.0.1:$port (pid $pid)"
            return 0
        fi
        stop_pid "$pid" 2
        log "nginx did not start on port $port (attempt $attempt):" \
            "$(tail -n 2 "$prefix/error.log" 2>/dev/null)"
    done
    die "nginx did not start"
}

# wrk pinned to the client CPU; its JSON line (from the Lua done()) ends up in the output file.
run_wrk() {
    local out=$1 duration=$2
    shift 2
    timeout -k 5 $((duration + 60)) "${pin_client[@]}" wrk --timeout 10s "-d${duration}s" "$@" \
        >"$out" 2>&1 || log "wrk exited with status $? (see $out)"
}

# Writes the paced client's JSON line to $1; the rest are the client's options.
run_paced() {
    local out=$1
    shift
    timeout -k 5 300 "$bin/tools/authd_paced_client" "$@" >"$out" 2>&1 ||
        log "authd_paced_client exited with status $? (see $out)"
}

# --- the run ---------------------------------------------------------------------------------------

log "results in ${run#"$root"/}; temporary files in $work"
meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta command "$command_line"
meta nproc "$cores"
meta cpu_model "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
meta kernel "$(uname -sr)"
meta loadavg "$(cut -d ' ' -f 1-3 /proc/loadavg)"
meta run_dir "bench/load/results/runs/$stamp"
meta git "$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)"
meta wrk_version "$(wrk -v 2>&1 | head -n 1 | cut -d ' ' -f 1-2)"
meta nginx_version "$(nginx -v 2>&1 | sed 's/.*version: //')"
meta pinning "$pinning"
meta rounds "$ROUNDS"
meta cheap_connections "$CHEAP_CONNECTIONS"
meta cheap_duration "$CHEAP_DURATION"
meta login_connections "$LOGIN_CONNECTIONS"
meta login_duration "$LOGIN_DURATION"
meta login_rounds "$LOGIN_ROUNDS"
meta paced_interval_ms "$PACED_INTERVAL_MS"
meta idle_connections "$IDLE_CONNECTIONS"
meta sweep_percents "$SWEEP_PERCENTS"
meta sweep_duration "$SWEEP_DURATION"
meta users "$USERS"

# The store: USERS users u<i> / pw-<i> at OWASP parameters (authctl hashes on every core).
"$bin/tools/authctl" key generate "$work/key" >/dev/null
for ((i = 1; i <= USERS; i++)); do
    printf 'u%d\tpw-%d\n' "$i" "$i"
done >"$work/users.tsv"
log "importing $USERS users (argon2id 19 MiB, t=2)"
t0=$(date +%s.%N)
timeout 600 "$bin/tools/authctl" --store "sqlite:$work/db" --hash-memory 19MiB --hash-ops 2 \
    user import "$work/users.tsv" >"$run/import.log" 2>&1 ||
    die "import failed: $(tail -n 2 "$run/import.log")"
t1=$(date +%s.%N)
meta import_seconds "$(python3 -c "print(round($t1 - $t0, 3))")"
# The import's fixed cost (start-up, store, one round of hashes): the same import of one user per
# core into a scratch store. (users - cores) / (difference of the times) is the rate at which
# authctl hashed on every core.
for ((i = 1; i <= cores; i++)); do
    printf 'c%d\tpw-c%d\n' "$i" "$i"
done >"$work/calibration.tsv"
t0=$(date +%s.%N)
timeout 120 "$bin/tools/authctl" --store "sqlite:$work/calibration.db" --hash-memory 19MiB \
    --hash-ops 2 user import "$work/calibration.tsv" >>"$run/import.log" 2>&1 || die "import failed"
t1=$(date +%s.%N)
meta import_calibration_users "$cores"
meta import_calibration_seconds "$(python3 -c "print(round($t1 - $t0, 3))")"

# The hash bound's denominator: one OWASP verification on one thread, as libsodium maps its memory
# (argon2id_verify/...) and over kept memory as authd's hash helpers verify (argon2id_verify_kept/...:
# the compute bound), interleaved. The filter also selects the first on every core at once
# (argon2id_verify/owasp_19MiB_t2/real_time/threads:N): the rate the machine hashes at, against
# which case 2 measures authd too. Not the dummy rows.
if [[ -x "$bin/bench/authd_bench_hash" ]]; then
    log "timing argon2id verifications, on one thread and on every core at once (authd_bench_hash)"
    timeout 300 "$bin/bench/authd_bench_hash" --benchmark_filter='argon2id_verify(_kept)?/owasp' \
        --benchmark_enable_random_interleaving=true \
        --benchmark_format=json --benchmark_min_time="$BENCH_MIN_TIME" \
        --benchmark_repetitions="$BENCH_REPETITIONS" >"$run/hash_bench.json" \
        2>"$run/hash_bench.err" || log "authd_bench_hash failed (see hash_bench.err)"
else
    log "no authd_bench_hash: the hash bound comes from the import's rate"
fi

# --- 1. cheap path: authd --threads 1 against nginx with one worker ------------------------------
start_authd authd_cheap pin_server "${cheap_args[@]}"
meta authd_cheap_args "${cheap_args[*]}"
meta keepalive_requests "$keepalive_requests"
meta nginx_connections "$nginx_connections"
meta cheap_rss_fresh_kb "$(rss_kb "$authd_cheap_pid")"
body_of() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["body"])' "$1"; }
status_of() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["status"])' "$1"; }

# Case 1b's token: one login of u1 on the cheap-path authd (one hash, before any measurement),
# then one /verify whose 200 body nginx's /verify answers too (nginx.conf.in, @VERIFY_BODY@).
"${harness[@]}" probe "$authd_cheap_port" /login 'User-Name: u1' 'Password: pw-1' \
    >"$run/login-token.json" || die "login for the /verify token failed"
[[ "$(status_of "$run/login-token.json")" == 200 ]] ||
    die "login for the /verify token answered $(body_of "$run/login-token.json")"
verify_token=$(python3 -c 'import json, sys
print(json.loads(json.load(open(sys.argv[1]))["body"])["token"])' "$run/login-token.json")
"${harness[@]}" probe "$authd_cheap_port" /verify "Token: $verify_token" \
    >"$run/probe-verify-authd.json" || die "/verify probe failed"
[[ "$(status_of "$run/probe-verify-authd.json")" == 200 ]] ||
    die "/verify with a fresh token answered $(body_of "$run/probe-verify-authd.json")"
verify_body=$(body_of "$run/probe-verify-authd.json")
# nginx gets it inside '…' through sed: no quote, backslash or newline (u1's body has none).
[[ "$verify_body" != *[\'\\\&/]* ]] || die "/verify body not templatable: $verify_body"
meta verify_body_bytes "${#verify_body}"

start_nginx
"${harness[@]}" probe "$authd_cheap_port" >"$run/probe-authd.json"
"${harness[@]}" probe "$nginx_port" >"$run/probe-nginx.json"
if [[ "$(body_of "$run/probe-authd.json")" == "$(body_of "$run/probe-nginx.json")" ]]; then
    meta bodies_identical yes
else
    meta bodies_identical no
fi
"${harness[@]}" probe "$nginx_port" /verify "Token: $verify_token" >"$run/probe-verify-nginx.json"
if [[ "$verify_body" == "$(body_of "$run/probe-verify-nginx.json")" ]]; then
    meta verify_bodies_identical yes
else
    meta verify_bodies_identical no
fi

log "cheap path: warm-up, then $ROUNDS rounds of ${CHEAP_DURATION}s, authd and nginx alternating"
run_wrk "$run/cheap/warmup-authd.txt" 1 -t1 "-c$CHEAP_CONNECTIONS" -s "$here/cheap.lua" \
    "http://127.0.0.1:$authd_cheap_port/login"
run_wrk "$run/cheap/warmup-nginx.txt" 1 -t1 "-c$CHEAP_CONNECTIONS" -s "$here/cheap.lua" \
    "http://127.0.0.1:$nginx_port/login"
meta clk_tck "$(getconf CLK_TCK)"
for ((r = 1; r <= ROUNDS; r++)); do
    # The servers' CPU time per round: requests per CPU-second are much less disturbed by other
    # processes on the machine than requests per second.
    ticks=$(cpu_ticks "$authd_cheap_pid")
    run_wrk "$run/cheap/authd-$r.txt" "$CHEAP_DURATION" -t1 "-c$CHEAP_CONNECTIONS" \
        -s "$here/cheap.lua" "http://127.0.0.1:$authd_cheap_port/login"
    meta "cheap_cpu_ticks_authd_$r" $(($(cpu_ticks "$authd_cheap_pid") - ticks))
    ((r == 1)) && meta cheap_rss_round1_kb "$(rss_kb "$authd_cheap_pid")"
    ticks=$(cpu_ticks "$nginx_pid")
    run_wrk "$run/cheap/nginx-$r.txt" "$CHEAP_DURATION" -t1 "-c$CHEAP_CONNECTIONS" \
        -s "$here/cheap.lua" "http://127.0.0.1:$nginx_port/login"
    meta "cheap_cpu_ticks_nginx_$r" $(($(cpu_ticks "$nginx_pid") - ticks))
    log "round $r: authd $(json_field requests_per_s "$run/cheap/authd-$r.txt") req/s," \
        "nginx $(json_field requests_per_s "$run/cheap/nginx-$r.txt") req/s"
done
sleep 0.5
meta cheap_rss_rounds_kb "$(rss_kb "$authd_cheap_pid")"

# --- 1b. /verify and /forward-auth: authd's cheapest authenticated paths, against nginx answering
# the same bytes. The same wrk, rounds and CPU accounting as case 1; verify.lua presents the token
# and counts the answers by status (only 200s are verified tokens). /forward-auth (what a proxy's
# auth_request asks: docs/forward-auth.md) answers the same body with the user in two headers.
verify_wrk=(-t1 "-c$CHEAP_CONNECTIONS" -s "$here/verify.lua")
for endpoint in verify forward-auth; do
    log "/$endpoint: warm-up, then $ROUNDS rounds of ${CHEAP_DURATION}s, authd and nginx alternating"
    run_wrk "$run/$endpoint/warmup-authd.txt" 1 "${verify_wrk[@]}" \
        "http://127.0.0.1:$authd_cheap_port/$endpoint" -- "$verify_token"
    run_wrk "$run/$endpoint/warmup-nginx.txt" 1 "${verify_wrk[@]}" \
        "http://127.0.0.1:$nginx_port/$endpoint" -- "$verify_token"
    for ((r = 1; r <= ROUNDS; r++)); do
        ticks=$(cpu_ticks "$authd_cheap_pid")
        run_wrk "$run/$endpoint/authd-$r.txt" "$CHEAP_DURATION" "${verify_wrk[@]}" \
            "http://127.0.0.1:$authd_cheap_port/$endpoint" -- "$verify_token"
        meta "${endpoint}_cpu_ticks_authd_$r" $(($(cpu_ticks "$authd_cheap_pid") - ticks))
        ticks=$(cpu_ticks "$nginx_pid")
        run_wrk "$run/$endpoint/nginx-$r.txt" "$CHEAP_DURATION" "${verify_wrk[@]}" \
            "http://127.0.0.1:$nginx_port/$endpoint" -- "$verify_token"
        meta "${endpoint}_cpu_ticks_nginx_$r" $(($(cpu_ticks "$nginx_pid") - ticks))
        log "/$endpoint round $r: authd $(json_field requests_per_s "$run/$endpoint/authd-$r.txt")" \
            "req/s ($(json_field ok "$run/$endpoint/authd-$r.txt") answered 200)," \
            "nginx $(json_field requests_per_s "$run/$endpoint/nginx-$r.txt") req/s"
    done
done

# --- 4. memory: idle keep-alive connections, authd then nginx ------------------------------------
# Opens IDLE_CONNECTIONS idle connections to a server (LABEL, port, pid, function reading its RSS),
# holds them while reading the RSS, closes them: sets LABEL_rss_{idle,with,closed}_kb.
measure_connections() {
    local label=$1 port=$2 server_pid=$3 rss_of=$4 opener i
    meta "${label}_rss_idle_kb" "$($rss_of "$server_pid")"
    "${pin_client[@]}" python3 "$here/open_connections.py" 127.0.0.1 "$port" "$IDLE_CONNECTIONS" 300 \
        >"$run/open-$label.json" 2>"$run/open-$label.err" &
    opener=$!
    pids+=("$opener")
    for ((i = 0; i < 1200; i++)); do
        grep -qs '^{' "$run/open-$label.json" && break
        kill -0 "$opener" 2>/dev/null || break
        sleep 0.1
    done
    grep -qs '^{' "$run/open-$label.json" ||
        die "opening connections ($label) failed: $(tail -n 3 "$run/open-$label.err")"
    sleep 1
    meta "${label}_rss_with_kb" "$($rss_of "$server_pid")"
    log "$label: $(cat "$run/open-$label.json") RSS $($rss_of "$server_pid") KiB"
    stop_pid "$opener" 10
    sleep 1
    meta "${label}_rss_closed_kb" "$($rss_of "$server_pid")"
}
log "memory: $IDLE_CONNECTIONS idle keep-alive connections to authd (twice), then to nginx"
measure_connections authd "$authd_cheap_port" "$authd_cheap_pid" rss_kb
# A second wave: memory kept after the first one closed must be reused, not added to.
measure_connections authd2 "$authd_cheap_port" "$authd_cheap_pid" rss_kb
measure_connections nginx "$nginx_port" "$nginx_pid" nginx_rss_kb

stop_pid "$authd_cheap_pid" 35
meta authd_cheap_exit "$stop_status"
stop_pid "$nginx_pid" 10
meta nginx_exit "$stop_status"

# --- 2. and 3. logins at saturation, a paced cheap request meanwhile ------------------------------
start_authd authd_login pin_none
meta hash_workers "$(sed -n 's/.*"event":"listening".*"hash_workers":"\([0-9]*\)".*/\1/p' \
    "$run/authd_login.log" | head -n 1)"
meta login_rss_fresh_kb "$(rss_kb "$authd_login_pid")"
paced_cheap=(--port "$authd_login_port" --interval-ms "$PACED_INTERVAL_MS" --expect-status 400)

log "isolation: paced cheap requests on idle authd (${IDLE_PACED_DURATION}s)"
run_paced "$run/login/paced-idle.json" "${paced_cheap[@]}" --duration-s "$IDLE_PACED_DURATION"

# The compute bound's t_kept is timed between the rounds, with authd idle: each round's bound is
# the mean of the timing before it and the one after it, so that the machine's drift (it is shared
# and noisy) falls on the bound and the logins alike (docs/benchmarks.md, issue 12).
time_bound() {
    [[ -x "$bin/bench/authd_bench_hash" ]] || return 0
    timeout 120 "$bin/bench/authd_bench_hash" \
        --benchmark_filter='^argon2id_verify_kept/owasp_19MiB_t2(/procs:[0-9]+)?$' \
        --benchmark_format=json \
        --benchmark_min_time="$BOUND_MIN_TIME" >"$1" 2>"$1.err" ||
        log "authd_bench_hash failed (see $1.err)"
}
log "logins: $LOGIN_ROUNDS rounds of wrk -c$LOGIN_CONNECTIONS for ${LOGIN_DURATION}s, t_kept timed" \
    "before and after each, paced cheap requests meanwhile"
sleep 1  # the isolation case's last requests
time_bound "$run/login/bound-0.json"
for ((r = 1; r <= LOGIN_ROUNDS; r++)); do
    ticks=$(cpu_ticks "$authd_login_pid")
    timeout -k 5 $((LOGIN_DURATION + 60)) wrk --timeout 10s -t1 "-c$LOGIN_CONNECTIONS" \
        "-d${LOGIN_DURATION}s" -s "$here/login.lua" "http://127.0.0.1:$authd_login_port/login" \
        -- "$USERS" >"$run/login/wrk-$r.txt" 2>&1 &
    wrk_pid=$!
    pids+=("$wrk_pid")
    sleep 1
    run_paced "$run/login/paced-loaded-$r.json" "${paced_cheap[@]}" \
        --duration-s $((LOGIN_DURATION - 2))
    wait "$wrk_pid" || log "wrk (logins) exited with status $?"
    meta "login_cpu_ticks_$r" $(($(cpu_ticks "$authd_login_pid") - ticks))
    sleep 1  # the logins still queued when wrk stopped
    time_bound "$run/login/bound-$r.json"
    log "logins round $r: $(json_field ok_per_s "$run/login/wrk-$r.txt")/s;" \
        "paced p99 $(json_field p99 "$run/login/paced-loaded-$r.json") ms;" \
        "t_kept after it $("${harness[@]}" t-kept "$run/login/bound-$r.json" || echo n/a) ms"
done
meta login_rss_saturated_kb "$(rss_kb "$authd_login_pid")"

# --- 5. latency against offered load ----------------------------------------------------------------
bound=$("${harness[@]}" bound "$run" || true)
[[ -n "$bound" ]] || die "no hash bound to pace the sweep"
log "latency sweep around the hash bound ($bound logins/s): $SWEEP_PERCENTS %"
for pct in $SWEEP_PERCENTS; do
    read -r interval conns < <(python3 -c "
import math, sys
rate = float(sys.argv[1]) * float(sys.argv[2]) / 100
# Enough connections for a second's worth of requests in flight, so that the client does not
# hold the offered load back; past authd's per-client queue share the excess is answered 503.
print(f'{1000 / rate:.4f}', min(120, max(2, math.ceil(rate))))" "$bound" "$pct")
    run_paced "$run/sweep/pct-$pct.json" --port "$authd_login_port" --interval-ms "$interval" \
        --connections "$conns" --duration-s "$SWEEP_DURATION" --grace-s 20 --expect-status 200 \
        --header 'User-Name: u1' --header 'Password: pw-1'
    log "sweep $pct%: $(cat "$run/sweep/pct-$pct.json")"
    sleep 0.5
done
sleep 1
meta login_rss_sweep_kb "$(rss_kb "$authd_login_pid")"
stop_pid "$authd_login_pid" 35
meta authd_login_exit "$stop_status"

# --- summary ------------------------------------------------------------------------------------------
meta loadavg_end "$(cut -d ' ' -f 1-3 /proc/loadavg)"
# Prints the ratios and the warnings; the whole summary goes to the file.
"${harness[@]}" summarize "$run"
if ((!quick)); then
    cp "$run/summary.md" "$here/results/summary.md"
    rm -f "$here/results/login_latency.png"
    if [[ -f "$run/login_latency.png" ]]; then
        cp "$run/login_latency.png" "$here/results/login_latency.png"
    fi
fi
if ((quick)); then
    log "full summary: ${run#"$root"/}/summary.md"
else
    log "full summary: ${run#"$root"/}/summary.md, copied to bench/load/results/"
fi
