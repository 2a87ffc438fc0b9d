"""Every live row stays reachable through the index, whatever the workload.

A randomized sequence of inserts (rows like the indexed ones, and rows far
from all of them), updates, deletes and VACUUM runs on a real server, for
each operator class. After every step `vectors_index_check` must report no
unreachable element (every live row is reached on layer 0 from the entry
point) and an index scan asking for every row must return exactly the
table's rows."""
import os

import numpy as np
import pytest

from conftest import glove, literal, load

OPCLASSES = [("vector_l2_ops", "<->"), ("vector_dot_ops", "<#>"), ("vector_cos_ops", "<=>")]


def all_rows_through_index(conn, operator, query):
    with conn.cursor() as cur:
        cur.execute("SET enable_seqscan = off")
        cur.execute("SET enable_bitmapscan = off")
        plan = "\n".join(r[0] for r in cur.execute(
            f"EXPLAIN SELECT id FROM items ORDER BY embedding {operator} %s LIMIT 1000000", (literal(query),)))
        assert "items_embedding" in plan, plan
        ids = [r[0] for r in cur.execute(
            f"SELECT id FROM items ORDER BY embedding {operator} %s LIMIT 1000000", (literal(query),))]
        cur.execute("RESET enable_seqscan")
        cur.execute("RESET enable_bitmapscan")
    return ids


@pytest.mark.parametrize("opclass,operator", OPCLASSES)
def test_randomized_workload_keeps_every_row_reachable(cluster, opclass, operator):
    rng = np.random.default_rng(int(os.environ.get("REACH_SEED", "20261204")))
    conn = cluster.connect()
    conn.execute("CREATE EXTENSION vectors")
    conn.execute("CREATE TABLE items (id integer PRIMARY KEY, embedding vector(50))")
    base = glove(12000)
    load(conn, "items", base[:6000])
    conn.execute(f"CREATE INDEX items_embedding ON items USING vectors (embedding {opclass})")
    next_id = 6000
    fresh = 6000  # next unused GloVe row
    steps = ["far", "near", "delete", "vacuum", "far", "update", "near", "delete", "far", "vacuum",
             "update", "far", "vacuum"]
    for step, kind in enumerate(steps):
        ids = [r[0] for r in conn.execute("SELECT id FROM items")]
        if kind == "near":
            for v in base[fresh:fresh + 800]:
                conn.execute("INSERT INTO items VALUES (%s, %s)", (next_id, literal(v)))
                next_id += 1
            fresh += 800
        elif kind == "far":
            for v in rng.uniform(-2, 2, (600, 50)).astype(np.float32):
                conn.execute("INSERT INTO items VALUES (%s, %s)", (next_id, literal(v)))
                next_id += 1
        elif kind == "delete":
            doomed = rng.choice(ids, size=len(ids) // 4, replace=False).tolist()
            conn.execute("DELETE FROM items WHERE id = ANY(%s)", (doomed,))
        elif kind == "update":
            moved = rng.choice(ids, size=300, replace=False).tolist()
            for row_id in moved:
                v = rng.uniform(-2, 2, 50).astype(np.float32) if rng.random() < 0.5 else base[rng.integers(len(base))]
                conn.execute("UPDATE items SET embedding = %s WHERE id = %s", (literal(v), row_id))
        else:
            conn.execute("VACUUM items")
        check = conn.execute("SELECT * FROM vectors_index_check('items_embedding')").fetchone()
        assert check[-1], f"step {step} ({kind}), {opclass}: index check {check}"
        table = sorted(r[0] for r in conn.execute("SELECT id FROM items"))
        query = rng.uniform(-1, 1, 50).astype(np.float32)
        found = all_rows_through_index(conn, operator, query)
        assert len(found) == len(set(found)), f"step {step} ({kind}): duplicates"
        assert sorted(found) == table, (
            f"step {step} ({kind}), {opclass}: the index scan returned {len(found)} of {len(table)} rows")
