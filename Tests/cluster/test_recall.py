"""Recall@10 of the index at default settings on 10,000 real GloVe vectors:
after CREATE INDEX, after inserting into an existing index, and after
deleting half the rows and VACUUM. Exact answers come from the same server
with index scans disabled."""
import numpy as np
import pytest

from conftest import glove, literal, load

QUERIES = 100
K = 10


def recall(conn, operator, queries):
    hits = 0
    with conn.cursor() as cur:
        for q in queries:
            sql = f"SELECT id FROM items ORDER BY embedding {operator} %s LIMIT {K}"
            cur.execute("SET enable_indexscan = off")
            exact = {r[0] for r in cur.execute(sql, (literal(q),)).fetchall()}
            cur.execute("RESET enable_indexscan; SET enable_seqscan = off")
            cur.execute("EXPLAIN " + sql, (literal(q),))
            plan = "\n".join(r[0] for r in cur.fetchall())
            assert "Index Scan using items_embedding" in plan, plan
            found = [r[0] for r in cur.execute(sql, (literal(q),)).fetchall()]
            cur.execute("RESET enable_seqscan")
            assert len(found) == K
            hits += len(exact & set(found))
    return hits / (len(queries) * K)


def check(conn, opclass):
    live, deleted, unreachable, bad_links, missing_rows, ok = conn.execute(
        "SELECT * FROM vectors_index_check('items_embedding')").fetchone()
    print(f"check {opclass}: live {live}, unreachable {unreachable}")
    assert bad_links == 0 and missing_rows == 0, (live, deleted, unreachable, bad_links, missing_rows)
    # Every operator class, inner product too (docs/INDEX.md, "Every row reachable").
    assert ok and unreachable == 0, (live, deleted, unreachable, bad_links, missing_rows)
    return live, deleted


@pytest.mark.parametrize("opclass,operator,tile", [("vector_cos_ops", "<=>", 1), ("vector_l2_ops", "<->", 1),
                                                   ("vector_dot_ops", "<#>", 1), ("vector_l2_ops", "<->", 4)])
def test_recall_build_insert_delete(cluster, opclass, operator, tile):
    data = glove(10_000, tile=tile)
    queries = glove(QUERIES, offset=20_000, tile=tile)
    conn = cluster.connect()
    conn.execute("CREATE EXTENSION vectors")
    conn.execute(f"CREATE TABLE items (id integer PRIMARY KEY, embedding vector({50 * tile}))")

    # 1. Build over all rows.
    load(conn, "items", data)
    conn.execute(f"CREATE INDEX items_embedding ON items USING vectors (embedding {opclass})")
    if tile == 4:
        # 7 whole 200-d nodes fill a page; lists kept apart use the rest.
        pages = conn.execute("SELECT pg_relation_size('items_embedding') / 8192").fetchone()[0]
        assert pages < 10_000 / 7 * 0.95, f"{pages} pages: no smaller than whole nodes"
    after_build = recall(conn, operator, queries)
    live, deleted = check(conn, opclass)
    unreachable_after_build = conn.execute("SELECT unreachable FROM vectors_index_check('items_embedding')").fetchone()[0]
    assert unreachable_after_build == 0, f"CREATE INDEX left {unreachable_after_build} of {live} nodes unreachable"

    # 2. Build over half, insert the other half through the index.
    conn.execute("DROP INDEX items_embedding")
    conn.execute("DELETE FROM items WHERE id >= 5000")
    conn.execute(f"CREATE INDEX items_embedding ON items USING vectors (embedding {opclass})")
    load(conn, "items", data[5000:], first_id=5000)
    after_insert = recall(conn, operator, queries)
    live = check(conn, opclass)[0]
    assert live == 10_000

    # 3. Delete half (every other row) and vacuum: the graph is repaired.
    conn.execute("DELETE FROM items WHERE id % 2 = 0")
    conn.execute("VACUUM items")
    after_delete = recall(conn, operator, queries)
    live, deleted = check(conn, opclass)
    assert (live, deleted) == (5000, 0)

    print(f"recall@10 {opclass} ({50 * tile}-d): build {after_build:.3f}, insert {after_insert:.3f}, "
          f"delete+vacuum {after_delete:.3f}")
    assert after_build >= 0.99
    assert after_insert >= 0.99
    assert after_delete >= 0.99
