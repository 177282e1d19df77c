#!/usr/bin/env bash
# Lints docs/openapi.yaml with Redocly's CLI, by the rules of tools/openapi/redocly.yaml (run by
# scripts/test.sh; the integration test OpenApi.* checks the real server's answers against it).
# The CLI is the version pinned in tools/openapi/package-lock.json, installed there by npm ci
# (again only when the lock changes); Node.js and npm come from Debian when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    scripts/install-deps.sh nodejs npm
fi

tools=tools/openapi
stamp=$tools/node_modules/.authd-installed-lock
if [[ ! -x $tools/node_modules/.bin/redocly ]] || ! cmp -s "$tools/package-lock.json" "$stamp"; then
    echo "openapi-check: npm ci in $tools" >&2
    (cd "$tools" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
    cp "$tools/package-lock.json" "$stamp"
fi

# No usage report leaves the machine, and no update check is made.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
"$tools/node_modules/.bin/redocly" lint --config "$tools/redocly.yaml" docs/openapi.yaml
