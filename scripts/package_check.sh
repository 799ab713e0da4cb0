#!/usr/bin/env bash
# Packaging as a user gets it: build the sdist and, from it, the wheel with the declared build
# floor (setuptools 77.0.3), install the wheel alone (no extras) in a fresh venv, then run
# `rivet --version`, the missing-extra error and the demo from that install.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
chmod 755 "$work"  # the demo's server runs as the postgres user from here
trap 'rm -rf "$work"' EXIT

"$PYTHON" -m venv "$work/build"
"$work/build/bin/pip" install -q setuptools==77.0.3 build==1.6.1
"$work/build/bin/python" -m build -q --no-isolation --outdir "$work/dist" . >/dev/null
ls "$work"/dist/rivet_extract-*.tar.gz "$work"/dist/rivet_extract-*.whl

"$PYTHON" -m venv "$work/user"
"$work/user/bin/pip" install -q "$work"/dist/rivet_extract-*.whl
"$work/user/bin/rivet" --version
if "$work/user/bin/rivet-mcp" --help >"$work/mcp.out" 2>&1; then
  echo "rivet-mcp ran without the mcp extra" >&2; exit 1
fi
grep -q "pip install 'rivet-extract\[mcp\]'" "$work/mcp.out" || { cat "$work/mcp.out" >&2; exit 1; }
demo=$PWD/demo/demo.py
(cd "$work" && "$work/user/bin/python" "$demo" >"$work/demo.out") || { cat "$work/demo.out" >&2; exit 1; }
ls "$work"/output/*/*.parquet >/dev/null
echo "package check: sdist and wheel built with setuptools 77.0.3; the wheel's rivet ran the demo"
