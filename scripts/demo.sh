#!/usr/bin/env bash
# Quick start: install what is missing, build, create a demo store holding the seed's example user
# (user_test / password_test) and a fresh signing key, and run authd in the foreground on
# 127.0.0.1:8080. Then, from another terminal:
#   curl -H 'User-Name: user_test' -H 'Password: password_test' http://127.0.0.1:8080/login
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target authd authctl

bin=build/release
mkdir -p demo
chmod 700 demo
if [[ ! -f demo/key ]]; then
  "$bin/tools/authctl" key generate demo/key
fi
if ! "$bin/tools/authctl" --store sqlite:demo/authd.db user list | grep -qx user_test; then
  # The password goes through standard input, never the command line.
  printf 'password_test\n' | "$bin/tools/authctl" --store sqlite:demo/authd.db user add user_test
fi

echo "authd: try  curl -H 'User-Name: user_test' -H 'Password: password_test' http://127.0.0.1:8080/login" >&2
exec "$bin/server/authd" --listen 127.0.0.1:8080 --store sqlite:demo/authd.db --key-file demo/key "$@"
