-- The `vectors` index access method: options, errors, operator classes,
-- plans, results, vacuum, and the integrity check.

CREATE TABLE items (id integer PRIMARY KEY, embedding vector(3));
INSERT INTO items SELECT i, ARRAY[sin(i), cos(i), sin(i * 0.7)]::real[] FROM generate_series(1, 500) i;
INSERT INTO items VALUES (501, NULL), (502, '[0,0,0]');

-- All three operator classes, and the option spellings.
CREATE INDEX items_l2 ON items USING vectors (embedding vector_l2_ops);
CREATE INDEX items_dot ON items USING vectors (embedding vector_dot_ops) WITH (m = 8, ef_construction = 40);
CREATE INDEX items_cos ON items USING vectors (embedding vector_cos_ops) WITH (options = $$
[indexing.hnsw]
m = 12
ef_construction = 64
$$);
SELECT c.relname, c.reloptions FROM pg_class c WHERE c.relname LIKE 'items\_%' ORDER BY 1;

-- Rejected options, each with its reason.
CREATE INDEX bad ON items USING vectors (embedding vector_l2_ops) WITH (m = 1); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE INDEX bad ON items USING vectors (embedding vector_l2_ops) WITH (m = 101); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE INDEX bad ON items USING vectors (embedding vector_l2_ops) WITH (ef_construction = 3); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE INDEX bad ON items USING vectors (embedding vector_l2_ops) WITH (ef_construction = 2001); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE INDEX bad ON items USING vectors (embedding vector_l2_ops) WITH (quantization = 8); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE INDEX bad ON items USING vectors (embedding vector_l2_ops) WITH (options = '[indexing.hnsw]
m = 0'); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE INDEX bad ON items USING vectors (embedding vector_l2_ops) WITH (options = '[indexing.hnsw]
m = 16
quantization = "trivial"'); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE INDEX bad ON items USING vectors (embedding vector_l2_ops) WITH (options = '[indexing.ivf]
nlist = 100'); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE INDEX bad ON items USING vectors (embedding vector_l2_ops) WITH (options = 'm = 16'); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE INDEX bad ON items USING vectors (embedding vector_l2_ops) WITH (options = '[indexing.hnsw]
m = sixteen'); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE INDEX bad ON items USING vectors (embedding vector_l2_ops) WITH (options = '[indexing.hnsw
m = 16'); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE INDEX bad ON items USING vectors (embedding vector_l2_ops) WITH (m = 8, options = '[indexing.hnsw]
m = 16'); \echo sqlstate :LAST_ERROR_SQLSTATE
-- The same value both ways is accepted.
CREATE INDEX twice ON items USING vectors (embedding vector_l2_ops) WITH (m = 12, options = '[indexing.hnsw]
m = 12');
DROP INDEX twice;

-- Columns the index cannot take.
CREATE TABLE untyped (v vector);
CREATE INDEX ON untyped USING vectors (v vector_l2_ops); \echo sqlstate :LAST_ERROR_SQLSTATE
-- No dimension is too large: vectors that do not fit a page with their
-- links are stored in parts (hnsw_large tests them).
CREATE TABLE wide (v vector(2000));
CREATE INDEX ON wide USING vectors (v vector_l2_ops);
CREATE INDEX ON wide USING vectors (v vector_l2_ops) WITH (m = 100);
CREATE TABLE widest (v vector(65535));
CREATE INDEX ON widest USING vectors (v vector_l2_ops);
DROP TABLE untyped, wide, widest;
CREATE INDEX ON items USING vectors (id); \echo sqlstate :LAST_ERROR_SQLSTATE

-- Plans: the index serves ORDER BY <its operator> (LIMIT), nothing else.
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY embedding <-> '[1,0,0]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY embedding <#> '[1,0,0]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY embedding <=> '[1,0,0]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM items WHERE embedding <-> '[1,0,0]' < 1;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY l2_distance(embedding, '[1,0,0]') LIMIT 5;

-- With ef_search above the row count, the index returns the exact answer.
CREATE FUNCTION same_as_exact(op text, q vector, k integer) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    by_index integer[];
    exact integer[];
BEGIN
    PERFORM set_config('enable_indexscan', 'on', true), set_config('enable_seqscan', 'off', true);
    EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY embedding %s %L LIMIT %s) s', op, q, k)
        INTO by_index;
    PERFORM set_config('enable_indexscan', 'off', true), set_config('enable_seqscan', 'on', true);
    EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY embedding %s %L LIMIT %s) s', op, q, k)
        INTO exact;
    PERFORM set_config('enable_indexscan', 'on', true), set_config('enable_seqscan', 'off', true);
    RETURN by_index = exact;
END $$;
SET vectors.hnsw_ef_search = 600;
SELECT op, same_as_exact(op, '[0.3,-0.2,0.9]', 20) FROM unnest(ARRAY['<->', '<#>', '<=>']) op;
SELECT id, round((embedding <-> '[0.3,-0.2,0.9]')::numeric, 5) AS distance
FROM items ORDER BY embedding <-> '[0.3,-0.2,0.9]' LIMIT 3;
RESET vectors.hnsw_ef_search;

-- NULLs are not indexed; a zero vector is not in the cosine index (no direction).
SET vectors.search_mode = vbase;
SELECT count(*) AS l2_rows FROM (SELECT id FROM items ORDER BY embedding <-> '[1,0,0]') s;
SELECT count(*) AS cos_rows FROM (SELECT id FROM items ORDER BY embedding <=> '[1,0,0]') s;
-- A zero query under cosine: every distance is NaN, any order is correct.
SELECT count(*) FROM (SELECT id FROM items ORDER BY embedding <=> '[0,0,0]' LIMIT 10) s;
-- ORDER BY a NULL query: every distance is NULL; rows still come back.
SELECT count(*) FROM (SELECT id FROM items ORDER BY embedding <-> NULL LIMIT 10) s;
-- A query of the wrong dimension.
SELECT id FROM items ORDER BY embedding <-> '[1,0]' LIMIT 1; \echo sqlstate :LAST_ERROR_SQLSTATE

-- Settings.
SET vectors.hnsw_ef_search = 0; \echo sqlstate :LAST_ERROR_SQLSTATE
SET vectors.hnsw_ef_search = 65536; \echo sqlstate :LAST_ERROR_SQLSTATE
SET vectors.search_mode = fast; \echo sqlstate :LAST_ERROR_SQLSTATE
SHOW vectors.hnsw_ef_search;
SHOW vectors.search_mode;

-- Inserts after the build, deletes and VACUUM keep the index consistent.
INSERT INTO items SELECT i, ARRAY[cos(i), sin(i * 1.3), cos(i * 0.2)]::real[] FROM generate_series(503, 1000) i;
SELECT live_elements, deleted_elements, unreachable, bad_links, missing_rows, ok FROM vectors_index_check('items_l2');
DELETE FROM items WHERE id % 3 = 0;
VACUUM items;
SELECT live_elements, deleted_elements, unreachable, bad_links, missing_rows, ok FROM vectors_index_check('items_l2');
SELECT live_elements, deleted_elements, bad_links, missing_rows FROM vectors_index_check('items_dot');
SELECT live_elements, deleted_elements, unreachable, bad_links, missing_rows, ok FROM vectors_index_check('items_cos');
SET vectors.hnsw_ef_search = 1000;
SELECT op, same_as_exact(op, '[-0.5,0.1,0.2]', 30) FROM unnest(ARRAY['<->', '<=>']) op;
RESET vectors.hnsw_ef_search;
REINDEX INDEX items_l2;
SELECT ok FROM vectors_index_check('items_l2');
SELECT * FROM vectors_index_check('items_pkey'); \echo sqlstate :LAST_ERROR_SQLSTATE

-- Unlogged tables get an init fork (ambuildempty).
CREATE UNLOGGED TABLE scratch (v vector(2));
CREATE INDEX ON scratch USING vectors (v vector_l2_ops);
INSERT INTO scratch VALUES ('[1,1]'), ('[2,2]'), ('[3,3]');
SELECT v FROM scratch ORDER BY v <-> '[2.1,2.1]' LIMIT 2;
-- An empty table.
TRUNCATE scratch;
SELECT v FROM scratch ORDER BY v <-> '[2.1,2.1]' LIMIT 2;
DROP TABLE scratch;

-- A graph larger than maintenance_work_mem: what fits is built in memory,
-- the rest is inserted on disk, with a NOTICE; the index is complete.
CREATE TABLE big (id integer, v vector(16));
INSERT INTO big SELECT i, (SELECT array_agg(sin(i * d * 0.013) + cos(i * 0.7 + d))::real[] FROM generate_series(1, 16) d)
FROM generate_series(1, 6000) i;
SET maintenance_work_mem = '1MB';
CREATE INDEX big_v ON big USING vectors (v vector_l2_ops);
RESET maintenance_work_mem;
SELECT live_elements, unreachable, bad_links, missing_rows, ok FROM vectors_index_check('big_v');
SET vectors.hnsw_ef_search = 200;
SELECT count(*) FROM (SELECT id FROM big ORDER BY v <-> (SELECT v FROM big WHERE id = 4321) LIMIT 1) s
WHERE id = 4321;
RESET vectors.hnsw_ef_search;
DROP INDEX big_v;
-- CREATE INDEX honours statement_timeout (and cancel): nothing is left behind.
SET statement_timeout = '100ms';
CREATE INDEX big_v ON big USING vectors (v vector_l2_ops) WITH (ef_construction = 2000); \echo sqlstate :LAST_ERROR_SQLSTATE
RESET statement_timeout;
SELECT count(*) AS leftover_indexes FROM pg_class WHERE relname = 'big_v';
DROP TABLE big;

-- Operator class validation (amvalidate).
SELECT opcname, amvalidate(c.oid) FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
WHERE a.amname = 'vectors' ORDER BY 1;
RESET enable_seqscan;
DROP FUNCTION same_as_exact;
DROP TABLE items;
