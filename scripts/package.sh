#!/usr/bin/env bash
# Builds the Debian package: build/package/authd_<version>_amd64.deb (docs/install.md).
# Installs what the build needs first (scripts/install-deps.sh), as the other scripts do.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh dpkg-dev help2man
werror=()
if [[ ${AUTHD_WERROR:-OFF} == ON ]]; then werror=(-DAUTHD_WERROR=ON); fi
cmake --preset package "${werror[@]}" >/dev/null
cmake --build --preset package -j "$(nproc)"
(cd build/package && cpack -G DEB >/dev/null)
ls build/package/authd_*_amd64.deb
