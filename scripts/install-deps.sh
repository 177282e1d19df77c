#!/usr/bin/env bash
# Installs the Debian 12 packages authd needs that are not installed yet (apt-get; run as root).
# Usage: scripts/install-deps.sh [EXTRA_PACKAGE...]
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev
  libssl-dev libsodium-dev libsqlite3-dev libpq-dev libcrypt-dev libaprutil1-dev libicu-dev
  libgtest-dev libbenchmark-dev
  python3 python3-jwt python3-cryptography curl openssl
  python3-yaml python3-jsonschema  # tests/openapi_check.py: answers against docs/openapi.yaml
  prometheus  # promtool checks /metrics (tests/integration/ops_test.cpp)
  postgresql nginx-light
  iproute2  # ip netns: a PostgreSQL behind a link that drops every packet (tests/integration/pg_test.cpp)
  caddy  # forward auth in front of an application (tests/integration/forward_auth_test.cpp)
  systemd  # systemd-analyze verify: the installed unit (tests/integration/config_test.cpp)
  clang-14 libclang-rt-14-dev
  clang-format-14 clang-tidy-14  # scripts/lint.sh: formatting and static analysis
  # Other systems' hashes, made by their own tools (tests/integration/legacy_hash_test.cpp)
  apache2-utils whois python3-passlib python3-django python3-argon2 python3-bcrypt
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} > 0)); then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
