"""Crash safety, streaming replication and concurrency of the index, on
real servers: the index is WAL-logged, so recovery and replicas need no
extra code, and these tests hold it to that."""
import os
import shutil
import subprocess
import threading
import time

import psycopg
import pytest

from conftest import (BINDIR, ROOT, Cluster, as_server_user, assert_full_scan_returns_every_row, glove, literal, load,
                      rows_not_found_by_own_vector)

def setup_items(conn, opclass="vector_l2_ops", rows=2000, tile=1):
    conn.execute("CREATE EXTENSION vectors")
    conn.execute(f"CREATE TABLE items (id integer PRIMARY KEY, embedding vector({50 * tile}))")
    load(conn, "items", glove(rows, tile=tile))
    conn.execute(f"CREATE INDEX items_embedding ON items USING vectors (embedding {opclass})")


def check_ok(conn):
    row = conn.execute("SELECT * FROM vectors_index_check('items_embedding')").fetchone()
    assert row[-1], f"index check failed: {row}"
    return row


def index_matches_exact(conn, queries, k=10, operator="<->"):
    """With a wide search, the index must return what a sequential scan returns."""
    with conn.cursor() as cur:
        for q in queries:
            sql = f"SELECT id FROM items ORDER BY embedding {operator} %s, id LIMIT {k}"
            cur.execute("SET enable_indexscan = off")
            exact = [r[0] for r in cur.execute(sql, (literal(q),)).fetchall()]
            cur.execute("RESET enable_indexscan; SET enable_seqscan = off; SET vectors.hnsw_ef_search = 400")
            found = [r[0] for r in cur.execute(
                f"SELECT id FROM items ORDER BY embedding {operator} %s LIMIT {k}", (literal(q),)).fetchall()]
            cur.execute("RESET enable_seqscan; RESET vectors.hnsw_ef_search")
            assert set(found) == set(exact), (found, exact)


def wait_for_replay(replica, lsn):
    """Waits (up to a minute) until the standby has replayed the WAL up to `lsn`."""
    deadline = time.time() + 60
    while replica.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()[0] is not True:
        assert time.time() < deadline, "standby did not catch up"
        time.sleep(0.2)


def insert_until_killed(cluster, rows, workers):
    """Inserts (id, vector) rows from `workers` concurrent clients (worker w
    takes rows w, w + workers, ...), kills the postmaster with SIGKILL after
    4 seconds and returns the ids whose INSERT returned (committed: autocommit)."""
    committed = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(worker):
        try:
            c = cluster.connect()
            for row_id, vector in rows[worker::workers]:
                if stop.is_set():
                    break
                c.execute("INSERT INTO items VALUES (%s, %s)", (row_id, literal(vector)))
                with lock:
                    committed.append(row_id)
        except psycopg.Error:
            pass  # the server went away under us: expected

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    time.sleep(4)
    cluster.kill9()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    return committed


# tile 4: 200-d rows, an index with layer-0 lists kept apart (inserts relink them).
@pytest.mark.parametrize("tile", [1, 4])
def test_crash_during_concurrent_inserts(cluster, tile):
    conn = cluster.connect()
    setup_items(conn, tile=tile)
    vectors = glove(20_000, offset=2000, tile=tile)
    committed = insert_until_killed(cluster, [(2000 + i, v) for i, v in enumerate(vectors)], workers=4)
    assert len(committed) > 100, "too few inserts before the crash to mean anything"

    cluster.start()  # crash recovery replays the WAL
    conn = cluster.connect()
    present = {r[0] for r in conn.execute("SELECT id FROM items WHERE id >= 2000").fetchall()}
    assert set(committed) <= present, "a committed row was lost"
    # Every committed row is found through the index: a search from its own
    # vector returns it among the 10 nearest (room for identical vectors),
    # and an index scan of all rows returns every row of the table once.
    assert rows_not_found_by_own_vector(conn, ids=committed) == [], "committed rows the index does not find"
    assert_full_scan_returns_every_row(conn, vectors[0])
    index_matches_exact(conn, glove(20, offset=30_000, tile=tile))
    live, deleted, unreachable, bad_links, missing, ok = check_ok(conn)
    assert missing == 0 and live >= 2000 + len(committed)
    # The index keeps working for writes after recovery.
    conn.execute("INSERT INTO items VALUES (-1, %s)", (literal(vectors[-1]),))
    conn.execute("DELETE FROM items WHERE id % 5 = 0")
    conn.execute("VACUUM items")
    check_ok(conn)


@pytest.mark.parametrize("tile", [1, 4])
def test_streaming_replica_returns_the_same_results(workdir, tile):
    primary = Cluster(workdir, "primary").init(wal_level="replica").start()
    standby = Cluster(workdir, "standby")
    try:
        conn = primary.connect()
        setup_items(conn, "vector_cos_ops", tile=tile)
        as_server_user([f"{BINDIR}/pg_basebackup", "-h", primary.dir, "-p", str(primary.port), "-U", "postgres",
                        "-D", standby.data, "-R", "-X", "stream", "--no-sync", "--checkpoint=fast"])
        standby.configure(hot_standby="on")
        standby.start()

        # Changes after the base backup reach the standby only through WAL:
        # inserts into the index, deletes, VACUUM's repair, a second index build.
        load(conn, "items", glove(2000, offset=2000, tile=tile), first_id=2000)
        conn.execute("DELETE FROM items WHERE id % 3 = 0")
        conn.execute("VACUUM items")
        conn.execute("CREATE INDEX items_l2 ON items USING vectors (embedding vector_l2_ops)")
        load(conn, "items", glove(500, offset=4000, tile=tile), first_id=4000)
        lsn = conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]

        replica = standby.connect()
        wait_for_replay(replica, lsn)

        queries = glove(30, offset=10_000, tile=tile)
        for server in (conn, replica):
            server.execute("SET enable_seqscan = off")
        for operator in ("<=>", "<->"):
            for q in queries:
                sql = f"SELECT id, embedding {operator} %s FROM items ORDER BY embedding {operator} %s LIMIT 20"
                a = conn.execute(sql, (literal(q), literal(q))).fetchall()
                b = replica.execute(sql, (literal(q), literal(q))).fetchall()
                assert a == b
                assert len(a) == 20
        plan = "\n".join(r[0] for r in replica.execute(
            "EXPLAIN SELECT id FROM items ORDER BY embedding <=> %s LIMIT 5", (literal(queries[0]),)).fetchall())
        assert "Index Scan using items_embedding" in plan
    finally:
        standby.stop("immediate")
        primary.stop("immediate")


# tile 4: readers follow layer-0 lists kept apart while writers relink them.
@pytest.mark.parametrize("tile", [1, 4])
def test_concurrent_inserts_searches_and_vacuum(cluster, workdir, tile):
    conn = cluster.connect()
    setup_items(conn, rows=3000, tile=tile)
    conn.execute("CREATE SEQUENCE item_ids START 100000")
    dims = 50 * tile
    scripts = {
        "insert.sql": "INSERT INTO items SELECT nextval('item_ids'), "
                      f"(SELECT array_agg(random() - 0.5)::real[] FROM generate_series(1, {dims}));\n",
        "search.sql": "SELECT id FROM items ORDER BY embedding <-> "
                      f"(SELECT array_agg(random() - 0.5)::real[]::vector FROM generate_series(1, {dims})) LIMIT 10;\n",
        "delete.sql": "DELETE FROM items WHERE id = (SELECT (random() * 3000)::integer);\n",
        "vacuum.sql": "VACUUM items;\n",
    }
    for name, text in scripts.items():
        with open(os.path.join(workdir, name), "w") as f:
            f.write(text)
    weights = {"insert.sql": 10, "search.sql": 10, "delete.sql": 3, "vacuum.sql": 1}
    args = [f"{BINDIR}/pgbench", "-h", cluster.dir, "-p", str(cluster.port), "-U", "postgres", "-n",
            "-c", "6", "-j", "2", "-T", "12", "postgres"]
    for name, weight in weights.items():
        args += ["-f", f"{os.path.join(workdir, name)}@{weight}"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "number of failed transactions: 0" in result.stdout, result.stdout
    processed = int(next(l for l in result.stdout.splitlines()
                         if l.startswith("number of transactions actually processed")).split(":")[1].split("/")[0])
    assert processed > 100, result.stdout
    inserted = conn.execute("SELECT count(*) FROM items WHERE id >= 100000").fetchone()[0]
    assert inserted > 0
    # INDEX_CLEANUP ON: with few dead rows VACUUM may otherwise skip the
    # index pass (and leave those heap TIDs dead, not reused).
    conn.execute("VACUUM (INDEX_CLEANUP ON) items")
    live, deleted, unreachable, bad_links, missing, ok = check_ok(conn)
    assert live == conn.execute("SELECT count(*) FROM items").fetchone()[0]
    assert "PANIC" not in cluster.log() and "server process" not in cluster.log()


def test_crash_during_inserts_of_large_vectors(cluster):
    """Vectors of 5,000 floats are stored in three parts, each WAL-logged
    before the element that names them: a crash at any point leaves the
    index consistent (at worst parts no element names, which the check
    ignores and VACUUM frees)."""
    import numpy as np
    dims = 5000
    rng = np.random.default_rng(7)
    vectors = rng.uniform(-1, 1, size=(2400, dims)).astype(np.float32)
    conn = cluster.connect()
    conn.execute("CREATE EXTENSION vectors")
    conn.execute(f"CREATE TABLE items (id integer PRIMARY KEY, embedding vector({dims}))")
    load(conn, "items", vectors[:200])
    conn.execute("CREATE INDEX items_embedding ON items USING vectors (embedding vector_l2_ops)")
    committed = insert_until_killed(cluster, [(i, vectors[i]) for i in range(200, len(vectors))], workers=3)
    assert len(committed) > 20, "too few inserts before the crash to mean anything"

    cluster.start()
    conn = cluster.connect()
    present = {r[0] for r in conn.execute("SELECT id FROM items WHERE id >= 200").fetchall()}
    assert set(committed) <= present, "a committed row was lost"
    live, deleted, unreachable, bad_links, missing, ok = check_ok(conn)
    assert missing == 0 and live >= 200 + len(committed)
    # Every row (the 200 before the crash, every committed one, and any
    # whose commit the crash interrupted after it was durable) is found
    # from its own vector, and an index scan of all rows returns each once.
    assert rows_not_found_by_own_vector(conn, k=1) == [], "rows the index does not find"
    assert_full_scan_returns_every_row(conn, vectors[0])
    # Writes go on after recovery; VACUUM frees what the crash left.
    for i in range(len(vectors) - 10, len(vectors)):
        conn.execute("INSERT INTO items VALUES (%s, %s) ON CONFLICT DO NOTHING", (i, literal(vectors[i])))
    conn.execute("DELETE FROM items WHERE id % 4 = 0")
    conn.execute("VACUUM items")
    check_ok(conn)
    size = conn.execute("SELECT pg_relation_size('items_embedding')").fetchone()[0]
    deleted_ids = [r[0] for r in conn.execute("SELECT i FROM generate_series(0, 199, 4) i").fetchall()]
    for i in deleted_ids:
        conn.execute("INSERT INTO items VALUES (%s, %s)", (i, literal(vectors[i])))
    check_ok(conn)
    assert conn.execute("SELECT pg_relation_size('items_embedding')").fetchone()[0] == size, \
        "VACUUM's free space was not reused"


def test_streaming_replica_with_large_vectors(workdir):
    """Parts reach a standby through WAL like everything else: after inserts,
    deletes and VACUUM on the primary, both answer the same."""
    import numpy as np
    dims = 3000  # two parts a vector
    rng = np.random.default_rng(11)
    vectors = rng.uniform(-1, 1, size=(300, dims)).astype(np.float32)
    primary = Cluster(workdir, "primary").init(wal_level="replica").start()
    standby = Cluster(workdir, "standby")
    try:
        conn = primary.connect()
        conn.execute("CREATE EXTENSION vectors")
        conn.execute(f"CREATE TABLE items (id integer PRIMARY KEY, embedding vector({dims}))")
        load(conn, "items", vectors[:100])
        conn.execute("CREATE INDEX items_embedding ON items USING vectors (embedding vector_cos_ops)")
        as_server_user([f"{BINDIR}/pg_basebackup", "-h", primary.dir, "-p", str(primary.port), "-U", "postgres",
                        "-D", standby.data, "-R", "-X", "stream", "--no-sync", "--checkpoint=fast"])
        standby.configure(hot_standby="on")
        standby.start()

        load(conn, "items", vectors[100:250], first_id=100)
        conn.execute("DELETE FROM items WHERE id % 3 = 0")
        conn.execute("VACUUM items")
        load(conn, "items", vectors[250:], first_id=250)
        check_ok(conn)
        lsn = conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]

        replica = standby.connect()
        wait_for_replay(replica, lsn)
        for server in (conn, replica):
            server.execute("SET enable_seqscan = off")
        for q in rng.uniform(-1, 1, size=(10, dims)).astype(np.float32):
            sql = "SELECT id, embedding <=> %s FROM items ORDER BY embedding <=> %s LIMIT 10"
            a = conn.execute(sql, (literal(q), literal(q))).fetchall()
            b = replica.execute(sql, (literal(q), literal(q))).fetchall()
            assert a == b and len(a) == 10
    finally:
        standby.stop("immediate")
        primary.stop("immediate")
