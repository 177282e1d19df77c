#!/usr/bin/env bash
# Is the gap between authd's logins/s and the compute bound authd's, or the machine's? In
# interleaved rounds, on the release build:
#
#   bench/load/contention.sh [ROUNDS [AUTHD_OPTION...]]   (6 rounds; about 15 s each)
#   bench/load/contention.sh 6 --threads 1                more options for authd
#
# each round times one OWASP verification over kept memory on one thread alone (authd_bench_hash
# `argon2id_verify_kept/owasp_19MiB_t2`, CPU time), then the same in two benchmark processes at
# once (one per core), then runs wrk logins against an authd with 2 hash workers (its defaults
# otherwise, an SQLite store with one user at OWASP parameters), and prints per round:
#   pair ÷ bound   the two processes' summed rate ÷ (2 / one alone): what two argon2 working sets at
#                  once cost each other, with no server at all
#   authd ÷ bound  logins/s ÷ (2 / one alone): issue 12's ratio
#   authd ÷ pair   logins/s ÷ the two processes' rate: what authd's own work costs
#   helper ms      authd's hash helpers' CPU time per login, next to one verification of the pair
#   main ms        authd's own process's CPU time per login (HTTP, limit store, token, log line)
# and the medians. Nothing is asserted; docs/benchmarks.md quotes a run.
set -euo pipefail

rounds=${1:-6}
extra=("${@:2}")
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$root/build/release"
for tool in wrk taskset python3 "$bin/server/authd" "$bin/tools/authctl" \
    "$bin/bench/authd_bench_hash"; do
    command -v "$tool" >/dev/null ||
        { echo "contention.sh: $tool is missing (cmake --preset release && cmake --build --preset release)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/authd-contention.XXXXXX")
authd_pid=""
# shellcheck disable=SC2317 # run by the trap
cleanup() {
    [[ -n $authd_pid ]] && kill "$authd_pid" 2>/dev/null
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$bin/tools/authctl" key generate "$work/key" >/dev/null
printf 'pw\n' | "$bin/tools/authctl" --store "sqlite:$work/db" user add u >/dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin/server/authd" --listen "127.0.0.1:$port" --store "sqlite:$work/db" --key-file "$work/key" \
    --hash-workers 2 --log-level warn "${extra[@]}" 2>"$work/authd.log" >/dev/null &
authd_pid=$!
python3 "$here/harness.py" wait-port "$port" 10 ||
    { echo "authd did not start: $(tail -n 3 "$work/authd.log")" >&2; exit 1; }
cat >"$work/login.lua" <<'LUA'
wrk.headers["User-Name"] = "u"
wrk.headers["Password"] = "pw"
LUA
wrk -t1 -c16 -d2s -s "$work/login.lua" "http://127.0.0.1:$port/login" >/dev/null  # warm-up
helpers=$(pgrep -P "$authd_pid" | tr '\n' ' ')

filter='^argon2id_verify_kept/owasp_19MiB_t2$'
bench() {  # SECONDS OUT [taskset CPU]
    local seconds=$1 out=$2
    shift 2
    "$@" "$bin/bench/authd_bench_hash" --benchmark_filter="$filter" \
        --benchmark_min_time="$seconds" --benchmark_format=json >"$out" 2>/dev/null
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
helper_ticks() {
    local total=0 p
    for p in $helpers; do total=$((total + $(ticks "$p"))); done
    echo "$total"
}

printf '%-6s %-9s %-9s %-12s %-12s %-12s %-18s %s\n' round "alone ms" "pair ÷ bound" \
    "authd ÷ bound" "authd ÷ pair" "logins/s" "helper ms (pair)" "main ms"
lines=()
for ((r = 1; r <= rounds; r++)); do
    bench 1.5 "$work/alone.json"
    bench 3 "$work/p0.json" taskset -c 0 &
    first=$!
    bench 3 "$work/p1.json" taskset -c 1
    wait "$first"
    m0=$(ticks "$authd_pid") h0=$(helper_ticks)
    wrk -t1 -c16 -d6s -s "$work/login.lua" "http://127.0.0.1:$port/login" >"$work/wrk.txt"
    sleep 0.3  # the logins still queued
    m1=$(ticks "$authd_pid") h1=$(helper_ticks)
    lines+=("$(python3 - "$work" "$((m1 - m0))" "$((h1 - h0))" "$(getconf CLK_TCK)" "$r" <<'PY'
import json, re, sys
work, main, helper, hz, r = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
ms = lambda f: json.load(open(f"{work}/{f}"))["benchmarks"][0]["cpu_time"]  # noqa: E731
alone, p0, p1 = ms("alone.json"), ms("p0.json"), ms("p1.json")
wrk = open(f"{work}/wrk.txt").read()
n = int(re.search(r"(\d+) requests in ([\d.]+)s", wrk).group(1))
secs = float(re.search(r"(\d+) requests in ([\d.]+)s", wrk).group(2))
bound, pair, logins = 2000 / alone, 1000 / p0 + 1000 / p1, n / secs
print(r, f"{alone:.2f}", f"{pair / bound:.3f}", f"{logins / bound:.3f}", f"{logins / pair:.3f}",
      f"{logins:.1f}", f"{helper / hz * 1000 / n:.2f} ({(p0 + p1) / 2:.2f})",
      f"{main / hz * 1000 / n:.3f}")
PY
)")
    read -r -a f <<<"${lines[-1]}"
    printf '%-6s %-9s %-12s %-13s %-12s %-12s %-18s %s\n' "${f[0]}" "${f[1]}" "${f[2]}" "${f[3]}" \
        "${f[4]}" "${f[5]}" "${f[6]} ${f[7]}" "${f[8]}"
done
python3 - "${lines[@]}" <<'PY'
import statistics, sys
rows = [line.split() for line in sys.argv[1:]]
med = lambda i: statistics.median(float(r[i]) for r in rows)  # noqa: E731
print(f"medians: pair ÷ bound {med(2):.3f}, authd ÷ bound {med(3):.3f}, authd ÷ pair {med(4):.3f}, "
      f"main process {med(8):.3f} ms per login")
PY
grep -q '"level":"error"' "$work/authd.log" && { echo "authd logged errors:" >&2; grep '"level":"error"' "$work/authd.log" >&2; }
exit 0
