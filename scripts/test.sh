#!/usr/bin/env bash
# Runs vpp's whole test suite on a fresh Debian machine with Rust: installs what the tests need
# (a Python virtual environment with pysunspec2, the SunSpec reference client), then runs every
# test of every crate with cargo-nextest when it is installed, else with cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."

# Python 3 with venv and pip (Debian splits them out).
if ! python3 -m venv --help >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq python3-venv python3-pip >/dev/null
fi

venv=.venv
requirements=tests/python/requirements.txt
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setting up $venv with $(tr '\n' ' ' < "$requirements")" >&2
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  echo "$want" > "$stamp"
fi
export VPP_PYTHON="$PWD/$venv/bin/python"

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-targets --no-fail-fast "$@"
  # nextest does not run doctests.
  cargo test --workspace --doc --quiet
else
  cargo test --workspace --all-targets --no-fail-fast "$@"
fi
