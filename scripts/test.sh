#!/usr/bin/env bash
# Sets up everything the tests need (idempotently) and runs lint, types, layering and tests.
# Extra arguments go to pytest, e.g. `scripts/test.sh tests/switch_api -x`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/bootstrap.sh

# Debian packages: sipp (package sip-tester) is the real SIP peer of the end-to-end tests.
need=()
command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
if [ ${#need[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
    echo "installing Debian packages: ${need[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The PostgreSQL tests run whenever a server answers (production is PostgreSQL).
if [ -z "${TANDEM_TEST_POSTGRES_URL:-}" ] && (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
    export TANDEM_TEST_POSTGRES_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
fi
if [ -n "${TANDEM_TEST_POSTGRES_URL:-}" ]; then echo "PostgreSQL tests: on"; else echo "PostgreSQL tests: off (no server at 127.0.0.1:5432)"; fi

venv="$root/.venv/bin"
echo "== ruff";   "$venv/ruff" check . && "$venv/ruff" format --check .
echo "== mypy";   "$venv/mypy" libs services
echo "== layers"; "$venv/lint-imports"
echo "== pytest"; "$venv/python" -m pytest "$@"
