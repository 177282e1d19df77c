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
#   share          the helpers' CPU time ÷ two CPUs' time, over the middle 5 s of the round (the
#                  rest of two CPUs: authd's main process, wrk, the kernel's threads, anything
#                  else, idle)
#   speed          one verification alone ÷ the helpers' CPU time per login; authd ÷ bound is
#                  share × speed: what the rest of the machine took, and how much slower each
#                  verification ran beside it
#   preempt        the helpers' involuntary context switches per login (another thread took a
#                  helper's core; about two per login are its own worker's, at the hand-over
#                  between two verifications: the perf round below tells them apart)
# and the medians. Nothing is asserted; docs/benchmarks.md quotes a run.
set -euo pipefail

rounds=${1:-6}
extra=("${@:2}")
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$root/build/release"
for tool in wrk taskset python3; do
    command -v "$tool" >/dev/null ||
        { echo "contention.sh: $tool is missing (apt-get install -y wrk util-linux python3)" >&2; exit 1; }
done
for tool in "$bin/server/authd" "$bin/tools/authctl" "$bin/bench/authd_bench_hash"; do
    [[ -x $tool ]] ||
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
machine_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }
helper_preemptions() {
    local total=0 p
    for p in $helpers; do
        total=$((total + $(awk '/^nonvoluntary_ctxt_switches/{print $2}' "/proc/$p/status")))
    done
    echo "$total"
}

printf '%-6s %-9s %-12s %-13s %-12s %-9s %-18s %-7s %-6s %-6s %s\n' round "alone ms" \
    "pair ÷ bound" "authd ÷ bound" "authd ÷ pair" "logins/s" "helper ms (pair)" "main ms" share \
    speed preempt
lines=()
for ((r = 1; r <= rounds; r++)); do
    bench 1.5 "$work/alone.json"
    bench 3 "$work/p0.json" taskset -c 0 &
    first=$!
    bench 3 "$work/p1.json" taskset -c 1
    wait "$first"
    # The CPU counts are taken over the middle 5 s of the 6 s of logins (saturated throughout:
    # not the start, nor the queue running dry after the end), per login at wrk's rate.
    wrk -t1 -c16 -d6s -s "$work/login.lua" "http://127.0.0.1:$port/login" >"$work/wrk.txt" &
    wrk_pid=$!
    sleep 0.5
    m0=$(ticks "$authd_pid") h0=$(helper_ticks) t0=$(machine_ticks) s0=$(helper_preemptions)
    sleep 5
    m1=$(ticks "$authd_pid") h1=$(helper_ticks) t1=$(machine_ticks) s1=$(helper_preemptions)
    wait "$wrk_pid"
    sleep 0.3  # the logins still queued
    lines+=("$(python3 - "$work" "$((m1 - m0))" "$((h1 - h0))" "$(getconf CLK_TCK)" "$r" \
        "$((t1 - t0))" "$((s1 - s0))" "$(nproc --all)" <<'PY'
import json, re, sys
work, r = sys.argv[1], sys.argv[5]
main, helper, hz, machine, preempted, cpus = (int(a) for a in sys.argv[2:5] + sys.argv[6:9])
ms = lambda f: json.load(open(f"{work}/{f}"))["benchmarks"][0]["cpu_time"]  # noqa: E731
alone, p0, p1 = ms("alone.json"), ms("p0.json"), ms("p1.json")
wrk = open(f"{work}/wrk.txt").read()
n = int(re.search(r"(\d+) requests in ([\d.]+)s", wrk).group(1))
secs = float(re.search(r"(\d+) requests in ([\d.]+)s", wrk).group(2))
bound, pair, logins = 2000 / alone, 1000 / p0 + 1000 / p1, n / secs
window = machine / hz / cpus  # seconds sampled (about 5)
helper_ms = helper / hz * 1000 / (logins * window)
print(r, f"{alone:.2f}", f"{pair / bound:.3f}", f"{logins / bound:.3f}", f"{logins / pair:.3f}",
      f"{logins:.1f}", f"{helper_ms:.2f} ({(p0 + p1) / 2:.2f})",
      f"{main / hz * 1000 / (logins * window):.3f}", f"{helper / hz / (2 * window):.3f}",
      f"{alone / helper_ms:.3f}", f"{preempted / (logins * window):.2f}")
PY
)")
    read -r -a f <<<"${lines[-1]}"
    printf '%-6s %-9s %-12s %-13s %-12s %-9s %-18s %-7s %-6s %-6s %s\n' "${f[0]}" "${f[1]}" \
        "${f[2]}" "${f[3]}" "${f[4]}" "${f[5]}" "${f[6]} ${f[7]}" "${f[8]}" "${f[9]}" "${f[10]}" \
        "${f[11]}"
done
python3 - "${lines[@]}" <<'PY'
import statistics, sys
rows = [line.split() for line in sys.argv[1:]]
med = lambda i: statistics.median(float(r[i]) for r in rows)  # noqa: E731
print(f"medians: pair ÷ bound {med(2):.3f}, authd ÷ bound {med(3):.3f}, authd ÷ pair {med(4):.3f}, "
      f"main process {med(8):.3f} ms per login; authd ÷ bound = share {med(9):.3f} × speed "
      f"{med(10):.3f}; {med(11):.2f} helper preemptions per login")
PY
# Who takes the helpers' cores: with perf (Debian: linux-perf) and the right to trace the
# scheduler, one more login round under `perf record -e sched:sched_switch` counts, per login,
# the times a helper was switched out while still runnable, by whom: its own hash worker (the
# hand-over at a verification's end, harmless), authd's other threads, wrk, anything else. A
# count, not a timing: it tells a change to wake-ups apart on a machine too noisy for logins/s.
if command -v perf >/dev/null &&
    perf record -e sched:sched_switch -a -o "$work/probe.data" -- true >/dev/null 2>&1; then
    wrk -t1 -c16 -d6s -s "$work/login.lua" "http://127.0.0.1:$port/login" >"$work/wrk.txt" &
    wrk_pid=$!
    sleep 1
    perf record -e sched:sched_switch -a -o "$work/sched.data" -- sleep 4 >/dev/null 2>&1 || true
    wait "$wrk_pid"
    perf script -i "$work/sched.data" -F trace 2>/dev/null >"$work/sched.txt" || true
    python3 - "$work/sched.txt" "$work/wrk.txt" "$authd_pid" "$helpers" <<'PY' || true
import collections, os, re, sys
trace, wrk, authd, helpers = sys.argv[1], sys.argv[2], sys.argv[3], set(sys.argv[4].split())
threads = set(os.listdir(f"/proc/{authd}/task"))
rate = float(re.search(r"Requests/sec:\s+([\d.]+)", open(wrk).read()).group(1))
switch = re.compile(r"prev_comm=.* prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+) ==> "
                    r"next_comm=(.*) next_pid=(\d+)")
taken = collections.Counter()  # (helper, taker) -> times
for line in open(trace):
    m = switch.search(line)
    if m and m.group(1) in helpers and m.group(2).startswith("R"):
        taker = m.group(4)
        if taker not in threads:
            taker = "wrk" if m.group(3).strip() == "wrk" else "other"
        taken[(m.group(1), taker)] += 1
own = {}
for (helper, taker), n in taken.items():
    if taker in threads and n > own.get(helper, ("", 0))[1]:
        own[helper] = (taker, n)
by = collections.Counter()
for (helper, taker), n in taken.items():
    if own.get(helper, ("",))[0] == taker:
        by["own worker (hand-over)"] += n
    else:
        by["authd's other threads" if taker in threads else taker] += n
logins = rate * 4
if not taken:
    sys.exit("(perf recorded no switch of the helpers: no count of who takes their cores)")
print("helpers switched out while runnable, per login (perf sched:sched_switch, 4 s at "
      f"{rate:.0f} logins/s): " + ", ".join(
          f"{k} {by[k] / logins:.2f}" for k in
          ("own worker (hand-over)", "authd's other threads", "wrk", "other")))
PY
else
    echo "(perf cannot trace the scheduler here: no count of who takes the helpers' cores)"
fi
grep -q '"level":"error"' "$work/authd.log" && { echo "authd logged errors:" >&2; grep '"level":"error"' "$work/authd.log" >&2; }
exit 0
