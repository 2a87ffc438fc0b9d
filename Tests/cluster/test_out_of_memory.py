"""CREATE INDEX running out of memory in the Swift build graph: the backend's
address space is capped (its soft RLIMIT_AS) just above what it uses, so the
graph's vector mapping cannot double. The statement must fail with SQLSTATE
53200 naming the size, the session must go on, no index may remain, and no
backend may crash (a crash makes the postmaster end every session: a second
connection opened before must survive)."""
import resource
import subprocess

import psycopg
import pytest

from conftest import ROOT

DIMENSIONS = 2000   # 8 kB a vector: the mapping doubles 67 MB -> 134 MB near 8,400 rows
ROWS = 12_000
HEADROOM = 150 << 20


def set_soft_limit(pid, soft):
    """Sets `pid`'s soft address-space limit, the hard one left unlimited.
    Done as the server user: the same user may change a process's limits
    without CAP_SYS_RESOURCE (which a container's root may lack), and
    lowering only the soft limit lets it be raised again."""
    value = "unlimited" if soft == resource.RLIM_INFINITY else str(soft)
    subprocess.run(["runuser", "-u", "postgres", "--", "prlimit", "--pid", str(pid), f"--as={value}:unlimited"],
                   check=True, capture_output=True)


def vm_size(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize")


@pytest.mark.skipif(not ROOT, reason="capping the server's address space needs to run as its user")
def test_create_index_out_of_memory(cluster):
    conn = cluster.connect()
    conn.execute("CREATE EXTENSION vectors")
    conn.execute(f"CREATE TABLE items (id integer, embedding vector({DIMENSIONS}))")
    conn.execute(f"INSERT INTO items SELECT i, array_fill((i % 97 + 1)::real, ARRAY[{DIMENSIONS}])::vector "
                 f"FROM generate_series(1, {ROWS}) i")
    conn.execute("CREATE TABLE small (id integer, embedding vector(3))")
    conn.execute("INSERT INTO small SELECT i, ARRAY[i, i % 7, 1]::real[]::vector FROM generate_series(1, 300) i")
    conn.execute("SET maintenance_work_mem = '1GB'")
    conn.execute("SET max_parallel_maintenance_workers = 0")
    watcher = cluster.connect()
    started = watcher.execute("SELECT pg_postmaster_start_time()").fetchone()[0]

    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    limit = vm_size(pid) + HEADROOM
    set_soft_limit(pid, limit)
    try:
        with pytest.raises(psycopg.Error) as raised:
            conn.execute("CREATE INDEX items_embedding ON items USING vectors (embedding vector_l2_ops)")
    finally:
        set_soft_limit(pid, resource.RLIM_INFINITY)
    error = raised.value
    message = error.diag.message_primary or ""
    print(f"SQLSTATE {error.sqlstate}: {message} ({error.diag.message_detail})")
    assert error.sqlstate == "53200", (error.sqlstate, message)
    # The Swift mapping failed, not a palloc (PostgreSQL's own "out of memory").
    assert "in-memory graph" in message and "134144000 bytes" in message, message

    # The same session goes on; nothing of the index is left.
    assert conn.execute("SELECT 1").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM pg_class WHERE relname = 'items_embedding'").fetchone()[0] == 0
    conn.execute("CREATE INDEX small_embedding ON small USING vectors (embedding vector_l2_ops)")
    conn.execute("SET enable_seqscan = off")
    assert conn.execute("SELECT id FROM small ORDER BY embedding <-> '[5,5,1]' LIMIT 1").fetchone()[0] == 5

    # No backend crashed: the other session survived, the server never restarted.
    assert watcher.execute("SELECT pg_postmaster_start_time()").fetchone()[0] == started
    assert "terminated by signal" not in cluster.log()
    assert "was terminated" not in cluster.log()
