#!/usr/bin/env bash
# Creates (idempotently) the project's virtual environment in .venv/ from uv.lock.
# uv itself lives in .tools/ so that `uv sync` owns .venv/ exactly as the lock file says.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

python="${TANDEM_PYTHON:-$(command -v python3.11 || command -v python3)}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "Tandem needs Python 3.11 (found $("$python" --version 2>&1)); set TANDEM_PYTHON" >&2
    exit 1
fi

if [ ! -x .tools/bin/uv ]; then
    "$python" -m venv .tools
    .tools/bin/pip install --quiet --disable-pip-version-check "uv>=0.5,<1"
fi

export UV_PYTHON="$python" UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT="$root/.venv"
.tools/bin/uv sync --frozen --quiet
