"""numpy's side of the kernel benchmark: the same block/query shape as
bench/kernels/main.swift, with the distances computed the way numpy users
do, through BLAS (sgemv) where possible. Prints JSON lines like the Swift side.

  dot: X @ q                                  (one sgemv)
  l2:  |x|^2 - 2 X @ q + |q|^2, |x|^2 precomputed (sgemv + one vector op),
       the standard BLAS formulation of squared Euclidean distance.
"""
import json
import sys
import time

import numpy as np

if sys.argv[1:] == ["--describe"]:
    # Which BLAS build and kernel numpy really runs (threadpoolctl reads it
    # from the loaded library), for the results file.
    try:
        import threadpoolctl
        blas = next(i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas")
        print("numpy %s, %s %s, %s kernel, %d thread" % (np.__version__, blas["internal_api"],
              blas["version"], blas.get("architecture"), blas["num_threads"]))
    except Exception:
        print("numpy %s" % np.__version__)
    sys.exit(0)

dims = [int(d) for d in sys.argv[1].split(",")]
block_bytes = int(sys.argv[2])
seconds = float(sys.argv[3])
rng = np.random.default_rng(0)


def measure(fn, nbytes):
    passes = 0
    start = time.perf_counter()
    while True:
        fn()
        passes += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return passes * nbytes / elapsed / 1e9


for dim in dims:
    count = max(1, block_bytes // (dim * 4))
    X = rng.uniform(-1, 1, size=(count, dim)).astype(np.float32)
    q = rng.uniform(-1, 1, size=dim).astype(np.float32)
    norms = np.einsum("ij,ij->i", X, X)
    qq = np.float32(q @ q)
    out = np.empty(count, dtype=np.float32)
    rows = {
        "dot": measure(lambda: np.matmul(X, q, out=out), X.nbytes),
        "l2": measure(lambda: np.add(norms - 2 * (X @ q), qq, out=out), X.nbytes),
    }
    for metric, gbps in rows.items():
        print(json.dumps({"dim": dim, "metric": metric, "implementation": "numpy", "gbps": gbps}))
