#!/usr/bin/env bash
# CLIP throughput: the Swift CLIP module against transformers + PyTorch (CPU) on
# the same random-weight ViT-B/32-shaped model, one after the other in one run,
# plus sgemm alone; written to bench/results/clip.md.
#
# The Swift module is run twice: with the OpenBLAS kernels OpenBLAS picks for
# this CPU, and with OPENBLAS_CORETYPE=Haswell (AVX2), the value some machines
# (this workplace's among them) set in the environment. PyTorch does its matrix
# products with its own bundled libraries, which that variable does not touch.
set -euo pipefail
cd "$(dirname "$0")/../.."
model=.data/clip-b32
[ -f "$model/model.safetensors" ] || scripts/clip-fixtures.sh --full-size "$model"
swift build -c release --product clip-bench
out=$(mktemp -d)
export CLIP_BENCH_IMAGES=64
env -u OPENBLAS_CORETYPE .build/release/clip-bench "$model" 1 2 | tee "$out/swift-auto.txt"
OPENBLAS_CORETYPE=Haswell .build/release/clip-bench "$model" 1 2 | tee "$out/swift-haswell.txt"
.venv-clip/bin/python bench/clip/torch_bench.py "$model" 1 2 | tee "$out/torch.txt"
python3 bench/clip/report.py "$out" bench/results/clip.md "make bench-clip"
rm -r "$out"
