#!/usr/bin/env bash
# A/B of two authd binaries in alternating rounds: for judging one change (bench/load/run.sh is
# the full harness).
#
#   bench/load/ab.sh OLD_AUTHD NEW_AUTHD [ROUNDS] [PATH]     the cheap path, next to nginx
#   AB_CASE=login bench/load/ab.sh OLD_AUTHD NEW_AUTHD [ROUNDS]   logins at saturation, and the
#                                  isolation of cheap requests meanwhile
#
# Cheap path: each round runs `wrk -t1 -c64 -d5s` against the old authd, the new one and nginx
# (1 worker, bench/load/nginx.conf.in), servers on CPU 0 and wrk on CPU 1 (as run.sh's case 1), and
# prints requests/s and the server's CPU time per request. PATH /verify or /forward-auth: every
# request carries a valid token (bench/load/verify.lua; one login at the old authd, whose key both
# share), as run.sh's case 1b.
# Logins: each authd has one user (OWASP argon2id parameters, authd's defaults) and 2 hash
# workers; each round runs `wrk -t1 -c16 -d5s` of right-password logins against the old one, then
# the new one (both cores shared by authd and wrk, as in production on a 2-core machine), and
# prints logins/s (all answers 200: anything else is counted and shown) and CPU time per login
# (authd's and its hash helpers'), the old one first in odd rounds and last in even ones, then
# the medians, their ratio, and what each one's hash helpers said about argon2's memory at start
# (docs/architecture.md). Isolation (run.sh's case 3): during each login round, a paced client
# (tools/authd_paced_client, one cheap request every 5 ms, latency counted from its schedule) asks
# the same authd, and the round prints that cheap request's p99 in ms; then the paced client
# logs in once every 60 ms for 3 s (each login finds a hash worker idle) and gives the median
# latency of one login alone; the medians follow. Build the old binary from another worktree,
# e.g. `git worktree add /tmp/old HEAD~1 && cmake -S /tmp/old -B /tmp/old/build
# -DCMAKE_BUILD_TYPE=Release && cmake --build /tmp/old/build --target authd`.
set -euo pipefail

if (($# < 2)); then
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit 2
fi
old=$1 new=$2 rounds=${3:-3} path=${4:-/login}
ab_case=${AB_CASE:-cheap}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
authctl="$root/build/release/tools/authctl"
paced="$root/build/release/tools/authd_paced_client"
for tool in wrk nginx taskset; do
    command -v "$tool" >/dev/null ||
        { echo "ab.sh: $tool is missing (apt-get install -y wrk nginx-light util-linux)" >&2; exit 1; }
done
for tool in "$old" "$new"; do
    command -v "$tool" >/dev/null ||
        { echo "ab.sh: $tool is missing (how to build an old authd: the top of this script)" >&2; exit 1; }
done
for tool in "$authctl" "$paced"; do
    command -v "$tool" >/dev/null ||
        { echo "ab.sh: $tool is missing (cmake --preset release && cmake --build --preset release)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/authd-ab.XXXXXX")
pids=()
cleanup() {
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
"$authctl" key generate "$work/key" >/dev/null
old_pid="" old_port="" new_pid="" new_port=""  # set by start_authd
start_authd() {  # NAME BINARY: sets NAME_port and NAME_pid
    local port cpus=0 extra=(--threads 1)
    port=$(free_port)
    if [[ $ab_case == login ]]; then
        # The store is made by the authctl built with that authd (the schema may differ).
        local own_authctl
        own_authctl="$(dirname "$(dirname "$2")")/tools/authctl"
        [[ -x $own_authctl ]] || own_authctl=$authctl
        printf 'ab-password\n' | "$own_authctl" --store "sqlite:$work/$1.db" user add ab >/dev/null
        # info: the hash helpers' start-up line (hash_helper_memory, reported below) is an info
        # line, and helpers log at authd's level.
        cpus=0,1 extra=(--threads 1 --hash-workers 2 --log-level info)
    fi
    if [[ $ab_case != login && $1 == old && $path =~ ^/(verify|forward-auth) ]]; then
        printf 'ab-password\n' | "$authctl" --store "sqlite:$work/$1.db" user add ab >/dev/null
    fi
    taskset -c "$cpus" "$2" --listen "127.0.0.1:$port" --store "sqlite:$work/$1.db" \
        --key-file "$work/key" "${extra[@]}" 2>"$work/$1.log" &
    pids+=($!)
    printf -v "$1_pid" '%s' "$!"
    printf -v "$1_port" '%s' "$port"
}
start_authd old "$old"
start_authd new "$new"
nginx_port=$(free_port)
mkdir -p "$work/nginx"
sed -e "s/@PORT@/$nginx_port/" -e "s/@CONNECTIONS@/1024/" -e "s/@NOFILE@/2048/" \
    -e "s/@KEEPALIVE_REQUESTS@/1000/" -e "s/@VERIFY_BODY@/{}/" -e "s/@VERIFY_USER@/u1/" \
    "$here/nginx.conf.in" >"$work/nginx/nginx.conf"
taskset -c 0 nginx -p "$work/nginx/" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
pids+=($!)
nginx_master=$!
sleep 1
nginx_worker=$(pgrep -P "$nginx_master" | head -n 1)

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# The process's CPU time with its children's (the hash helper processes, reaped or not).
tree_ticks() {
    local total=0 p t
    for p in $1 $(pgrep -P "$1"); do
        t=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null) || t=0  # one may just have ended
        total=$((total + ${t:-0}))
    done
    echo "$total"
}
hz=$(getconf CLK_TCK)

# A percentile (p50, p99) in ms of a paced client's JSON line in FILE; ? when it has none.
paced_ms() {
    python3 -c "import json, sys
print(f\"{json.load(open(sys.argv[1]))['latency_ms'][sys.argv[2]]:.3f}\")" "$1" "$2" 2>/dev/null ||
        echo "?"
}

if [[ $ab_case == login ]]; then
    cat >"$work/login.lua" <<'LUA'
wrk.headers["User-Name"] = "ab"
wrk.headers["Password"] = "ab-password"
local others = 0
function response(status) if status ~= 200 then others = others + 1 end end
function done() io.stderr:write("non-200: " .. others .. "\n") end
LUA
    sleep 1
    printf '%-6s %-48s %-48s\n' round "old: logins/s, CPU ms/login, p99 ms, alone ms" \
        "new: logins/s, CPU ms/login, p99 ms, alone ms"
    declare -A result
    rates_old=() rates_new=() p99_old=() p99_new=() alone_old=() alone_new=()
    for ((r = 1; r <= rounds; r++)); do
        # Old first in odd rounds, new first in even ones: drift of the machine falls on both.
        order=(old new)
        ((r % 2 == 0)) && order=(new old)
        for server in "${order[@]}"; do
            case $server in
                old) port=$old_port pid=$old_pid ;;
                new) port=$new_port pid=$new_pid ;;
            esac
            t0=$(tree_ticks "$pid")
            # The paced cheap requests start after wrk's first second and end before it does.
            (sleep 1 && "$paced" --port "$port" --interval-ms 5 --expect-status 400 \
                --duration-s 3 >"$work/paced.json" 2>"$work/paced.err") &
            paced_pid=$!
            out=$(wrk -t1 -c16 -d5s -s "$work/login.lua" "http://127.0.0.1:$port/login" 2>&1)
            t1=$(tree_ticks "$pid")
            wait "$paced_pid" || true
            p99=$(paced_ms "$work/paced.json" p99)
            if [[ $server == old ]]; then p99_old+=("$p99"); else p99_new+=("$p99"); fi
            rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
            bad=$(awk '/non-200:/ {print $2}' <<<"$out")
            if [[ $server == old ]]; then rates_old+=("$rps"); else rates_new+=("$rps"); fi
            result[$server]=$(python3 -c "import sys
rps, ticks, hz, bad = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
note = '' if bad == '0' else f' ({bad} not 200)'
print(f'{rps:,.1f}, {ticks / hz / (rps * 5) * 1e3:.2f}{note}')" "$rps" $((t1 - t0)) "$hz" "${bad:-?}")
            result[$server]+=", $p99"
            # One login alone: a login every 60 ms for 3 s (about a sixth of what two workers
            # verify: each finds a hash worker idle), the median latency.
            "$paced" --port "$port" --interval-ms 60 --duration-s 3 --expect-status 200 \
                --header "User-Name: ab" --header "Password: ab-password" \
                >"$work/alone.json" 2>"$work/alone.err" || true
            alone=$(paced_ms "$work/alone.json" p50)
            if [[ $server == old ]]; then alone_old+=("$alone"); else alone_new+=("$alone"); fi
            result[$server]+=", $alone"
        done
        printf '%-6s %-48s %-48s\n' "$r" "${result[old]}" "${result[new]}"
    done
    python3 -c "import statistics, sys
old, new, p_old, p_new = ([float(x) for x in a.split() if x != '?'] or [float('nan')] for a in sys.argv[1:5])
mo, mn = statistics.median(old), statistics.median(new)
print(f'median logins/s: old {mo:,.1f}, new {mn:,.1f}, new / old {mn / mo:.2f}')
po, pn = statistics.median(p_old), statistics.median(p_new)
print(f'median p99 of a cheap request meanwhile: old {po:.2f} ms, new {pn:.2f} ms')
ao, an = ([float(x) for x in a.split() if x != '?'] or [float('nan')] for a in sys.argv[5:7])
mao, man = statistics.median(ao), statistics.median(an)
print(f'median latency of one login alone: old {mao:.2f} ms, new {man:.2f} ms, new / old {man / mao:.2f}')" \
        "${rates_old[*]}" "${rates_new[*]}" "${p99_old[*]}" "${p99_new[*]}" \
        "${alone_old[*]}" "${alone_new[*]}"
    # What each binary's hash helpers said at start (argon2's memory kept or not, and the page
    # faults of their self-check's verification).
    for server in old new; do
        fast=$(grep -o '"fast_path":"[a-z]*","page_faults_per_verification":"[0-9]*"' \
            "$work/$server.log" | sed 's/"fast_path":"\([a-z]*\)","page_faults_per_verification":"\([0-9]*\)"/\1 (\2 page faults)/' |
            paste -sd, -) || true
        echo "$server: hash helpers' argon2 memory fast path: ${fast:-not reported (a build before issue 12: the kernel maps argon2 memory)}"
    done
    exit 0
fi
token_wrk=()
if [[ $path =~ ^/(verify|forward-auth) ]]; then
    token=$(curl -sf -H 'User-Name: ab' -H 'Password: ab-password' "http://127.0.0.1:$old_port/login" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])') ||
        { echo "ab.sh: no token from the old authd's /login" >&2; exit 1; }
    token_wrk=(-s "$here/verify.lua")
fi
printf '%-6s %-26s %-26s %-26s\n' round "old: req/s, CPU us/req" "new: req/s, CPU us/req" \
    "nginx: req/s, CPU us/req"
for ((r = 1; r <= rounds; r++)); do
    line=$(printf '%-6s' "$r")
    for server in old new nginx; do
        case $server in
            old) port=$old_port pid=$old_pid ;;
            new) port=$new_port pid=$new_pid ;;
            nginx) port=$nginx_port pid=$nginx_worker ;;
        esac
        t0=$(ticks "$pid")
        rps=$(taskset -c 1 wrk -t1 -c64 -d5s "${token_wrk[@]}" "http://127.0.0.1:$port$path" \
            ${token_wrk[@]:+-- "$token"} |
            awk '/Requests\/sec/ {print $2}')
        t1=$(ticks "$pid")
        line+=$(printf ' %-26s' "$(python3 -c "import sys
rps, ticks, hz = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
print(f'{rps:,.0f}, {ticks / hz / (rps * 5) * 1e6:.2f}')" "$rps" $((t1 - t0)) "$hz")")
    done
    echo "$line"
done
