#!/usr/bin/env bash
# Create or refresh .venv from requirements.lock. Idempotent: a stamp of the lock and
# pyproject hashes makes a second run a no-op.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python310() {
  local candidates=(python3.10)
  if command -v pyenv >/dev/null 2>&1; then
    local version
    for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.[0-9]+)?$'); do
      candidates+=("$(pyenv root)/versions/$version/bin/python")
    done
  fi
  local candidate
  for candidate in "${candidates[@]}"; do
    # pyenv shims exist on PATH but fail unless 3.10 is selected, so run each one.
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

stamp_value() { cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1; }

if [ -x .venv/bin/python ] && [ -f .venv/.setup-stamp ] && [ "$(cat .venv/.setup-stamp)" = "$(stamp_value)" ]; then
  exit 0
fi

if [ ! -x .venv/bin/python ]; then
  if ! PY="$(find_python310)"; then
    echo "error: Python 3.10 not found. TFX 1.16 needs Python 3.10: install it (e.g. 'pyenv install 3.10.13' or your OS package python3.10) and re-run." >&2
    exit 1
  fi
  echo "setup: creating .venv with $PY"
  "$PY" -m venv .venv
fi

echo "setup: installing pinned dependencies from requirements.lock (first time takes a few minutes)"
# pip repeats a warning per package for an index location a machine's pip config names but
# lacks; drop those lines, keep every other message.
quiet_pip() { .venv/bin/python -m pip "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
quiet_pip install --quiet --upgrade "pip>=25"
# --no-compile: pip would byte-compile every installed module (~1 min here); Python compiles
# the modules a run imports on first use instead.
quiet_pip install --quiet --no-compile -r requirements.lock
quiet_pip install --quiet --no-deps --no-build-isolation -e .
stamp_value > .venv/.setup-stamp
echo "setup: done"
