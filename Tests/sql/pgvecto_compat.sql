-- SQL written for pgvecto.rs runs unchanged: its settings (each accepted,
-- with the meaning docs/INDEX.md gives) and its index option spellings.

CREATE TABLE items (id integer PRIMARY KEY, embedding vector(3));
INSERT INTO items SELECT i, ARRAY[sin(i), cos(i), sin(i * 0.7)]::real[] FROM generate_series(1, 300) i;
CREATE INDEX items_embedding ON items USING vectors (embedding vector_l2_ops);

-- immich's search transaction (until 2025, on pgvecto.rs).
BEGIN;
SET LOCAL vectors.enable_prefilter = on;
SET LOCAL vectors.search_mode = vbase;
SET LOCAL vectors.hnsw_ef_search = 100;
SET LOCAL enable_seqscan = off;
SELECT id FROM items WHERE id % 2 = 0 ORDER BY embedding <=> '[1,0,0]' LIMIT 3 OFFSET 0;
SELECT count(*) FROM (SELECT id FROM items WHERE id % 2 = 0 ORDER BY embedding <-> '[1,0,0]' LIMIT 100 OFFSET 20) s;
COMMIT;

-- The others pgvecto.rs 0.2-0.4 had.
SET vectors.ivf_nprobe = 20;
SET vectors.pgvector_compatibility = on;
SET vectors.sq_rerank_size = 10;
SET vectors.pq_rerank_size = 10;
SET vectors.rq_rerank_size = 0;
SET vectors.sq_fast_scan = on;
SET vectors.pq_fast_scan = on;
SET vectors.rq_fast_scan = off;
SELECT name, setting FROM pg_settings WHERE name LIKE 'vectors.%' ORDER BY name;
RESET ALL;
SET vectors.ivf_nprobe = 0; \echo sqlstate :LAST_ERROR_SQLSTATE
SET vectors.rq_rerank_size = 70000; \echo sqlstate :LAST_ERROR_SQLSTATE
SET vectors.enable_prefilter = maybe; \echo sqlstate :LAST_ERROR_SQLSTATE
SET vectors.no_such_setting = 1; \echo sqlstate :LAST_ERROR_SQLSTATE

-- vectors.enable_index = off keeps the planner away from the index.
SET enable_seqscan = off;
SET vectors.enable_index = off;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY embedding <-> '[1,0,0]' LIMIT 3;
RESET vectors.enable_index;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY embedding <-> '[1,0,0]' LIMIT 3;
RESET enable_seqscan;

-- Option strings: \r\n and stray \r line ends, dotted and quoted keys,
-- inline tables, the [optimizing] table.
DROP INDEX items_embedding;
CREATE INDEX crlf ON items USING vectors (embedding vector_l2_ops) WITH (options = E'[indexing.hnsw]\r\r\nm = 12\r\nef_construction = 40\r\n');
CREATE INDEX dotted ON items USING vectors (embedding vector_l2_ops) WITH (options = $$indexing.hnsw.m = 12
optimizing.optimizing_threads = 2
$$);
CREATE INDEX inline ON items USING vectors (embedding vector_cos_ops) WITH (options = $$
[indexing]
hnsw = { m = 10, "ef_construction" = 50 }   # an inline table, a quoted key
[optimizing]
optimizing_threads = 1
sealing_secs = 60
sealing_size = 1
delete_threshold = 0.2
$$);
SELECT c.relname, (SELECT ok FROM vectors_index_check(c.oid)) FROM pg_class c
WHERE c.relname IN ('crlf', 'dotted', 'inline') ORDER BY 1;
-- pgvecto.rs's index status view, with this index's values.
DELETE FROM items WHERE id > 290;
SELECT indexrelid::regclass, tablerelid::regclass, idx_status, idx_indexing, idx_tuples, idx_sealed,
       idx_growing, idx_write, idx_size = pg_relation_size(indexrelid) AS size_ok, idx_options
FROM pg_vector_index_stat ORDER BY 1;
VACUUM items;
SELECT indexrelid::regclass, idx_tuples FROM pg_vector_index_stat ORDER BY 1;
SELECT * FROM vectors_index_stat('items_pkey'); \echo sqlstate :LAST_ERROR_SQLSTATE
SET enable_seqscan = off;
SELECT id FROM items ORDER BY embedding <=> '[1,0,0]' LIMIT 3;
RESET enable_seqscan;
CREATE INDEX bad ON items USING vectors (embedding vector_l2_ops) WITH (options = '[optimizing]
optimizing_threads = 0'); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE INDEX bad ON items USING vectors (embedding vector_l2_ops) WITH (options = '[optimizing]
delete_threshold = 2'); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE INDEX bad ON items USING vectors (embedding vector_l2_ops) WITH (options = '[optimizing]
sealing = 1'); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE INDEX bad ON items USING vectors (embedding vector_l2_ops) WITH (options = '[indexing.hnsw]
[indexing.hnsw]'); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE INDEX bad ON items USING vectors (embedding vector_l2_ops) WITH (options = 'indexing = { hnsw = { m = 8 }'); \echo sqlstate :LAST_ERROR_SQLSTATE

DROP TABLE items;
