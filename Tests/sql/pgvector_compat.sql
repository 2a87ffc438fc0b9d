-- pgvector's SQL under vectors.pgvector_compatibility (pgvecto.rs's mode):
-- USING hnsw / ivfflat with pgvector's operator classes and options, and
-- pgvector's search settings, rewritten onto this extension's index.

-- The rewrite needs the module loaded in the session; CREATE TABLE with a
-- vector(3) column loads it here (docs/INDEX.md: preload it otherwise).
CREATE TABLE docs (id integer PRIMARY KEY, embedding vector(3), body text);
INSERT INTO docs SELECT i, ARRAY[sin(i), cos(i), sin(i * 0.7)]::real[], 'doc ' || i
FROM generate_series(1, 500) i;
SET vectors.pgvector_compatibility = on;

-- Off: pgvector's names are not this extension's.
SET vectors.pgvector_compatibility = off;
CREATE INDEX ON docs USING hnsw (embedding vector_cosine_ops); \echo sqlstate :LAST_ERROR_SQLSTATE
SET vectors.pgvector_compatibility = on;

-- hnsw with each of pgvector's operator classes and its options.
CREATE INDEX docs_cos ON docs USING hnsw (embedding vector_cosine_ops) WITH (m = 12, ef_construction = 80);
CREATE INDEX docs_ip ON docs USING hnsw (embedding vector_ip_ops);
CREATE INDEX docs_l2 ON docs USING hnsw (embedding);
CREATE INDEX docs_l2_named ON docs USING hnsw (embedding vector_l2_ops) WITH (m = 8);
-- The catalog holds plain vectors indexes (pg_dump writes them so), with
-- pgvector's defaults where the statement gave none (m 16, ef_construction 64).
SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'docs' AND indexname <> 'docs_pkey' ORDER BY indexname;
SELECT c.relname, (vectors_index_check(c.oid::regclass)).unreachable, (vectors_index_check(c.oid::regclass)).ok
FROM pg_class c WHERE c.relname IN ('docs_cos', 'docs_ip', 'docs_l2', 'docs_l2_named') ORDER BY 1;

-- The indexes serve pgvector's queries, with the same answers as a scan.
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM docs ORDER BY embedding <=> '[1,0,0]' LIMIT 5;
SELECT id FROM docs ORDER BY embedding <=> '[1,0,0]' LIMIT 5;
SELECT id FROM docs ORDER BY embedding <#> '[1,0,0]' LIMIT 5;
SELECT id FROM docs ORDER BY embedding <-> '[1,0,0]' LIMIT 5;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT id FROM docs ORDER BY embedding <=> '[1,0,0]' LIMIT 5;
SELECT id FROM docs ORDER BY embedding <#> '[1,0,0]' LIMIT 5;
SELECT id FROM docs ORDER BY embedding <-> '[1,0,0]' LIMIT 5;
RESET enable_indexscan;
DROP INDEX docs_ip, docs_l2, docs_l2_named;

-- ivfflat: there is no IVF index yet; it becomes an HNSW index, and lists
-- is checked as pgvector checks it.
CREATE INDEX docs_ivf ON docs USING ivfflat (embedding vector_l2_ops) WITH (lists = 100);
SELECT indexdef FROM pg_indexes WHERE indexname = 'docs_ivf';
DROP INDEX docs_ivf;
CREATE INDEX ON docs USING ivfflat (embedding vector_l2_ops) WITH (lists = 0); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE INDEX ON docs USING ivfflat (embedding vector_l2_ops) WITH (lists = 40000); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE INDEX ON docs USING ivfflat (embedding vector_l2_ops) WITH (lists = 'many'); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE INDEX ON docs USING ivfflat (embedding vector_l2_ops) WITH (m = 16); \echo sqlstate :LAST_ERROR_SQLSTATE

-- Bad options and operator classes: clear errors, nothing created.
CREATE INDEX ON docs USING hnsw (embedding vector_l2_ops) WITH (lists = 10); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE INDEX ON docs USING hnsw (embedding vector_l2_ops) WITH (m = 1); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE INDEX ON docs USING hnsw (embedding vector_l2_ops) WITH (ef_construction = 'wide'); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE INDEX ON docs USING hnsw (embedding vector_l1_ops); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE INDEX ON docs USING hnsw (body); \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT count(*) AS indexes FROM pg_indexes WHERE tablename = 'docs';
-- This extension's own operator class names work under USING hnsw too.
CREATE INDEX docs_dot ON docs USING hnsw (embedding vector_dot_ops);
SELECT indexdef FROM pg_indexes WHERE indexname = 'docs_dot';
DROP INDEX docs_dot;
-- An expression index, a partial index and CONCURRENTLY go through as well.
CREATE INDEX CONCURRENTLY docs_partial ON docs USING hnsw ((embedding) vector_cosine_ops) WHERE id % 2 = 0;
SELECT indexdef FROM pg_indexes WHERE indexname = 'docs_partial';
DROP INDEX docs_partial;

-- pgvector's settings are this extension's.
SET hnsw.ef_search = 40;
SHOW vectors.hnsw_ef_search;
SHOW hnsw.ef_search;
SET ivfflat.probes = 7;
SHOW vectors.ivf_nprobe;
SHOW ivfflat.probes;
BEGIN;
SET LOCAL hnsw.ef_search = 200;
SHOW vectors.hnsw_ef_search;
COMMIT;
SHOW vectors.hnsw_ef_search;
RESET hnsw.ef_search;
SHOW vectors.hnsw_ef_search;
SET hnsw.iterative_scan = off;
SHOW vectors.search_mode;
SET hnsw.iterative_scan = relaxed_order;
SHOW vectors.search_mode;
SET hnsw.iterative_scan = strict_order;
SHOW vectors.search_mode;
SET hnsw.iterative_scan = sideways; \echo sqlstate :LAST_ERROR_SQLSTATE
SET hnsw.ef_search = 0; \echo sqlstate :LAST_ERROR_SQLSTATE
-- Inside a function body too (plpgsql runs SET as a utility statement).
CREATE FUNCTION set_ef(n integer) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SET hnsw.ef_search = %s', n);
    RETURN current_setting('vectors.hnsw_ef_search');
END $$;
SELECT set_ef(33);
DROP FUNCTION set_ef;
-- And in per-role settings.
CREATE ROLE compat_role;
ALTER ROLE compat_role SET hnsw.ef_search = 55;
SELECT unnest(setconfig) FROM pg_db_role_setting WHERE setrole = 'compat_role'::regrole;
ALTER ROLE compat_role RESET hnsw.ef_search;
SELECT count(*) FROM pg_db_role_setting WHERE setrole = 'compat_role'::regrole;
DROP ROLE compat_role;

-- With the mode off, pgvector's names are placeholders again and change nothing here.
SET vectors.pgvector_compatibility = off;
SET hnsw.ef_search = 77;
SHOW vectors.hnsw_ef_search;
RESET ALL;
DROP TABLE docs;
