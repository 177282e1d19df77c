#!/usr/bin/env bash
# The Debian package end to end, as an operator meets it (run by scripts/test.sh; needs root, and
# installs the package on this machine): builds build/package/authd_*_amd64.deb, checks it with
# lintian (no errors; the warnings are listed in docs/install.md), installs it with apt-get, adds a
# user with the installed authctl as user authd, runs the installed authd exactly as the unit's
# ExecStart does (as user authd; no systemd needed) and logs in, then removes the package (the
# store and the key stay) and purges it (both go).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
    echo "package-test: needs root (it installs the package)" >&2
    exit 1
fi
# It purges the package at the end, deleting /var/lib/authd and /etc/authd/key: never on a machine
# where authd is installed already (as a package, or by cmake --install with its own store).
if [[ ${AUTHD_PACKAGE_TEST_REPLACE:-} != 1 ]]; then
    if dpkg-query -W -f='${Status}' authd 2>/dev/null | grep -q "ok installed" ||
        [[ -e /var/lib/authd || -e /etc/authd ]]; then
        echo "package-test: authd is installed here already (the package, or /var/lib/authd or" \
            "/etc/authd exists); the test would purge its store and key. Set" \
            "AUTHD_PACKAGE_TEST_REPLACE=1 to go on." >&2
        exit 1
    fi
fi

passed=0 failed=0
check() {  # DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "package-test: FAILED: $what" >&2
    fi
}

AUTHD_WERROR=${AUTHD_WERROR:-ON} scripts/package.sh >/dev/null
deb=$(ls build/package/authd_*_amd64.deb)
scripts/install-deps.sh lintian curl
echo "package-test: lintian $deb"
check "lintian reports no errors" lintian --fail-on error --info "$deb"

work=$(mktemp -d "${TMPDIR:-/tmp}/authd-package.XXXXXX")
authd_pid=""
cleanup() {
    if [[ -n $authd_pid ]]; then kill "$authd_pid" 2>/dev/null || true; fi
    rm -rf "$work"
    if dpkg-query -W -f='${Status}' authd 2>/dev/null | grep -q "installed"; then
        DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq authd >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$deb" >"$work/install.log" 2>&1 ||
    { cat "$work/install.log" >&2; exit 1; }
check "the package says it made a signing key" grep -q "created a signing key" "$work/install.log"
check "user authd exists" id -u authd >/dev/null
check "/var/lib/authd is 0700 authd" test "$(stat -c '%a %U' /var/lib/authd)" = "700 authd"
check "/etc/authd/key is 0600 authd" test "$(stat -c '%a %U' /etc/authd/key)" = "600 authd"
check "/etc/authd/authd.conf is a conffile" grep -qx /etc/authd/authd.conf \
    /var/lib/dpkg/info/authd.conffiles
check "the binaries are installed" test -x /usr/bin/authd -a -x /usr/bin/authctl
check "the man pages are installed" test -f /usr/share/man/man1/authd.1.gz
unit=/lib/systemd/system/authd.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
check "the unit runs /usr/bin/authd" test "$exec_start" = "/usr/bin/authd --config /etc/authd/authd.conf"

printf 'package-password\n' |
    runuser -u authd -- authctl --store sqlite:/var/lib/authd/authd.db user add package-user
check "the store belongs to authd" test "$(stat -c '%U' /var/lib/authd/authd.db)" = authd

# The unit's ExecStart as its User= would run it; only the port differs (a variable wins over the
# config file), so that a busy 8080 on the test machine does not matter.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
read -r -a command <<<"$exec_start"
runuser -u authd -- env AUTHD_LISTEN="127.0.0.1:$port" "${command[@]}" 2>"$work/authd.log" &
authd_pid=$!
for _ in $(seq 1 100); do
    grep -q '"listening"' "$work/authd.log" 2>/dev/null && break
    sleep 0.1
done
body=$(curl -sS -H 'User-Name: package-user' -H 'Password: package-password' \
    "http://127.0.0.1:$port/login" || true)
check "the installed authd logs in the user: $body" grep -q '"code":200,"status":"ok","token":"ey' <<<"$body"
check "authd runs as user authd" test "$(ps -o user= -p "$(pgrep -n -u authd -x authd)")" = authd
kill -TERM "$authd_pid"
wait "$authd_pid" || true
authd_pid=""

DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq authd >"$work/remove.log" 2>&1
check "remove deletes the binaries" test ! -e /usr/bin/authd
check "remove keeps the store" test -s /var/lib/authd/authd.db
check "remove keeps the key" test -s /etc/authd/key
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq authd >"$work/purge.log" 2>&1
check "purge says what it deletes" grep -q "deleting /var/lib/authd" "$work/purge.log"
check "purge deletes the store and the key" test ! -e /var/lib/authd -a ! -e /etc/authd/key

echo "package-test: $passed passed, $failed failed"
((failed == 0))
