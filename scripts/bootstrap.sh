#!/usr/bin/env sh
# Set up gpumarket on a fresh machine: find Python >= 3.12, make .venv, install the project with
# its test extras. Safe to run again (it reuses .venv). Usage: sh scripts/bootstrap.sh
set -eu
cd "$(dirname "$0")/.."

ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; }

PY=""
if [ -n "${GPUMARKET_PYTHON:-}" ]; then
  PY="$GPUMARKET_PYTHON"
else
  for cand in python3.13 python3.12 python3 python; do
    if command -v "$cand" >/dev/null 2>&1 && ok "$cand"; then PY=$(command -v "$cand"); break; fi
  done
  if [ -z "$PY" ] && command -v pyenv >/dev/null 2>&1; then
    for v in $(pyenv versions --bare 2>/dev/null | sort -rV); do
      cand="$(pyenv root)/versions/$v/bin/python3"
      if [ -x "$cand" ] && ok "$cand"; then PY="$cand"; break; fi
    done
  fi
fi
if [ -z "$PY" ] || ! ok "$PY"; then
  echo "bootstrap: gpumarket needs Python 3.12 or newer; none found (set GPUMARKET_PYTHON=/path/to/python3.12)" >&2
  exit 2
fi

if [ ! -x .venv/bin/python ] || ! ok .venv/bin/python; then
  rm -rf .venv
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
echo "bootstrap: ready ($(.venv/bin/python --version)); try .venv/bin/gpumarket --help" >&2
