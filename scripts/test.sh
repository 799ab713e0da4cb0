#!/usr/bin/env bash
# The test command: installs what the project needs, then lint, types, unit and live tests.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/unit -k config).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/services.sh
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[dev]'

.venv/bin/ruff check src tests scripts bench demo
.venv/bin/ruff format --check src tests scripts bench demo
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
