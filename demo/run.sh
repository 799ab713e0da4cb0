#!/usr/bin/env bash
# Self-contained demo: installs rivet in .venv, starts a throwaway PostgreSQL, seeds it, exports
# every table to ./output with `rivet run`, shows the files, and stops the database.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq postgresql >/dev/null; else sudo apt-get install -y postgresql; fi
fi
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q -e . 
exec .venv/bin/python demo/demo.py "$@"
