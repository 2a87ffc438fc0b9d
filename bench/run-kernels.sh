#!/usr/bin/env bash
# Distance kernel benchmark: Swift kernels (scalar loop, each SIMD family)
# and numpy (BLAS) in one run, written to bench/results/kernels.md.
#
#   bench/run-kernels.sh [DIMS] [BLOCK_BYTES] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import threadpoolctl" 2>/dev/null || pip install -q threadpoolctl >/dev/null 2>&1 || true
dims=${1:-128,512,768,1536}
bytes=${2:-4194304}
seconds=${3:-0.5}

swift build -c release --product vectors-bench-kernels >/dev/null
out=$(mktemp)
.build/release/vectors-bench-kernels --dims "$dims" --bytes "$bytes" --seconds "$seconds" >"$out"
# numpy single-threaded, like one PostgreSQL backend. The machine's
# OPENBLAS_CORETYPE override (kept for old OpenBLAS builds) would force a
# slower kernel on a current numpy, so it is dropped for this process only.
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 \
    python3 bench/kernels_numpy.py "$dims" "$bytes" "$seconds" >>"$out"
blas=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 python3 bench/kernels_numpy.py --describe)

mkdir -p bench/results
python3 - "$out" "$blas" "$bytes" >bench/results/kernels.md <<'PY'
import json, platform, subprocess, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
rows = [l for l in lines if "gbps" in l]
chosen = next(l["best"] for l in lines if "best" in l)
blas, block = sys.argv[2], int(sys.argv[3])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
impls = []
for r in rows:
    if r["implementation"] not in impls:
        impls.append(r["implementation"])
simd = [i for i in impls if i not in ("scalar", "numpy")]
best = chosen  # the family the extension uses on this CPU
get = lambda d, m, i: next(r["gbps"] for r in rows if r["dim"] == d and r["metric"] == m and r["implementation"] == i)
print("# Distance kernel throughput\n")
print(f"GB/s of vector data consumed, one query against a {block >> 20} MiB block of float32 vectors, one thread.")
print(f"CPU: {cpu}; {swift}; {blas}. Produced by `make bench-kernels`.")
print(f"The extension uses the widest family the CPU supports; here: {best}.\n")
print("| dim | metric | scalar loop | " + " | ".join(simd) + f" | numpy (BLAS) | {best} / scalar | {best} / numpy |")
print("|---|---|---|" + "---|" * len(simd) + "---|---|---|")
for d in sorted({r["dim"] for r in rows}):
    for m in ("l2", "dot"):
        cells = [f"{get(d, m, i):.1f}" for i in ["scalar"] + simd + ["numpy"]]
        print(f"| {d} | {m} | " + " | ".join(cells) +
              f" | {get(d, m, best) / get(d, m, 'scalar'):.1f}x | {get(d, m, best) / get(d, m, 'numpy'):.2f}x |")
print("\nl2 is squared Euclidean distance; numpy computes it as |x|^2 - 2 X@q + |q|^2 with the row norms")
print("precomputed (sgemv plus one vector pass), dot as X@q (sgemv).")
PY
cat bench/results/kernels.md
rm -f "$out"
