-- Vectors too large to share an index page with their links are stored in
-- parts on pages of their own ("external vectors", docs/INDEX.md). Every
-- operator class, build, insert, exact-order scans, VACUUM (space reused),
-- REINDEX and the integrity check, at 2,000 (one part), 4,096 (three),
-- 16,000 (eight) and 65,535 (the type's limit, 33 parts) dimensions.

-- A row of n random floats in [-1, 1) (repeatable after setseed).
CREATE FUNCTION random_vector(n integer, row_id integer) RETURNS vector LANGUAGE sql AS $$
    SELECT array_agg(random() * 2 - 1)::real[]::vector FROM generate_series(1, n) WHERE row_id IS NOT NULL
$$;

-- Whether the index returns the k nearest rows to row `probe` in exactly the
-- order of an exact sort (a plan without the index), and that it was used.
-- Compared by distance, since in thousands of dimensions random rows can be
-- equally far to the last bit and then come in either order.
CREATE FUNCTION index_matches_exact(tbl regclass, op text, probe integer, k integer) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    q text := format('(SELECT v FROM %s WHERE id = %s)', tbl, probe);
    query text := format('SELECT id, v %s %s AS d FROM %s ORDER BY v %s %s LIMIT %s', op, q, tbl, op, q, k);
    plan text := '';
    line text;
    got real[];
    want real[];
BEGIN
    PERFORM set_config('enable_seqscan', 'off', true);
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
        plan := plan || line;
    END LOOP;
    IF plan NOT LIKE '%Index Scan using ' || tbl || '%Order By: (v ' || op || '%' THEN
        RETURN 'index not used: ' || plan;
    END IF;
    EXECUTE format('SELECT array_agg(d) FROM (%s) s', query) INTO got;
    PERFORM set_config('enable_seqscan', 'on', true);
    PERFORM set_config('enable_indexscan', 'off', true);
    PERFORM set_config('enable_bitmapscan', 'off', true);
    EXECUTE format('SELECT array_agg(d) FROM (%s) s', query) INTO want;
    PERFORM set_config('enable_indexscan', 'on', true);
    PERFORM set_config('enable_bitmapscan', 'on', true);
    RETURN CASE WHEN got = want AND cardinality(got) = k THEN 'same' ELSE format('index %s, exact %s', got, want) END;
END
$$;

-- The integrity check's counts; `ok` also needs every row reachable, which
-- inner product does not promise (docs/INDEX.md, known limitations).
CREATE FUNCTION check_index(idx regclass) RETURNS text LANGUAGE sql AS $$
    SELECT format('live %s, deleted %s, bad links %s, missing rows %s, unreachable %s',
                  live_elements, deleted_elements, bad_links, missing_rows, unreachable)
    FROM vectors_index_check(idx)
$$;

-- 2,000 dimensions: pgvector's limit; one element with 2,000 floats and
-- 32 links no longer fits a page (the old limit was 1,984), one part does.
SELECT setseed(0.2);
CREATE TABLE d2000 (id integer PRIMARY KEY, v vector(2000));
INSERT INTO d2000 SELECT i, random_vector(2000, i) FROM generate_series(1, 150) i;
CREATE INDEX d2000_l2 ON d2000 USING vectors (v vector_l2_ops);
CREATE INDEX d2000_dot ON d2000 USING vectors (v vector_dot_ops);
CREATE INDEX d2000_cos ON d2000 USING vectors (v vector_cos_ops) WITH (m = 8);
INSERT INTO d2000 SELECT i, random_vector(2000, i) FROM generate_series(151, 200) i;
SELECT index_matches_exact('d2000', '<->', 3, 10), index_matches_exact('d2000', '<#>', 170, 10),
       index_matches_exact('d2000', '<=>', 42, 10);
SELECT check_index('d2000_l2'), check_index('d2000_dot'), check_index('d2000_cos');
-- 1,980 dimensions at m = 16: an element fits a page, but not with the
-- upper tuple of a node on a higher layer (this failed before parts); the
-- vectors go to a part of their own.
SELECT setseed(0.3);
CREATE TABLE d1980 (id integer PRIMARY KEY, v vector(1980));
INSERT INTO d1980 SELECT i, random_vector(1980, i) FROM generate_series(1, 100) i;
CREATE INDEX d1980_l2 ON d1980 USING vectors (v vector_l2_ops);
INSERT INTO d1980 SELECT i, random_vector(1980, i) FROM generate_series(101, 130) i;
SELECT check_index('d1980_l2'), index_matches_exact('d1980', '<->', 120, 10);
DROP TABLE d1980;

-- 4,096 dimensions, three parts: delete a third, VACUUM frees elements and
-- parts, and inserting as many rows again reuses the space.
SELECT setseed(0.4);
CREATE TABLE d4096 (id integer PRIMARY KEY, v vector(4096));
INSERT INTO d4096 SELECT i, random_vector(4096, i) FROM generate_series(1, 120) i;
CREATE INDEX d4096_l2 ON d4096 USING vectors (v vector_l2_ops);
CREATE INDEX d4096_dot ON d4096 USING vectors (v vector_dot_ops) WITH (m = 12, ef_construction = 40);
CREATE INDEX d4096_cos ON d4096 USING vectors (v vector_cos_ops);
INSERT INTO d4096 SELECT i, random_vector(4096, i) FROM generate_series(121, 150) i;
SELECT index_matches_exact('d4096', '<->', 1, 10), index_matches_exact('d4096', '<#>', 130, 10),
       index_matches_exact('d4096', '<=>', 77, 10);
SELECT pg_relation_size('d4096_l2') AS l2_size, pg_relation_size('d4096_cos') AS cos_size \gset
DELETE FROM d4096 WHERE id % 3 = 0;
VACUUM d4096;
SELECT check_index('d4096_l2'), check_index('d4096_dot'), check_index('d4096_cos');
SELECT index_matches_exact('d4096', '<->', 1, 10), index_matches_exact('d4096', '<=>', 77, 10);
INSERT INTO d4096 SELECT i, random_vector(4096, i) FROM generate_series(1001, 1050) i;
SELECT pg_relation_size('d4096_l2') = :l2_size AS l2_space_reused,
       pg_relation_size('d4096_cos') = :cos_size AS cos_space_reused;
SELECT check_index('d4096_l2'), check_index('d4096_cos');
REINDEX TABLE d4096;
SELECT check_index('d4096_l2'), check_index('d4096_dot'), check_index('d4096_cos');
SELECT index_matches_exact('d4096', '<->', 1010, 10), index_matches_exact('d4096', '<#>', 4, 10),
       index_matches_exact('d4096', '<=>', 1049, 10);

-- 16,000 dimensions, eight parts, and a build that outgrows
-- maintenance_work_mem: the rest of the rows are inserted on disk.
SELECT setseed(0.6);
CREATE TABLE d16000 (id integer PRIMARY KEY, v vector(16000));
INSERT INTO d16000 SELECT i, random_vector(16000, i) FROM generate_series(1, 60) i;
SET maintenance_work_mem = '1MB';
CREATE INDEX d16000_l2 ON d16000 USING vectors (v vector_l2_ops) WITH (m = 8);
RESET maintenance_work_mem;
CREATE INDEX d16000_dot ON d16000 USING vectors (v vector_dot_ops) WITH (m = 8);
CREATE INDEX d16000_cos ON d16000 USING vectors (v vector_cos_ops) WITH (m = 8);
INSERT INTO d16000 SELECT i, random_vector(16000, i) FROM generate_series(61, 70) i;
SELECT index_matches_exact('d16000', '<->', 65, 10), index_matches_exact('d16000', '<#>', 2, 10),
       index_matches_exact('d16000', '<=>', 30, 10);
DELETE FROM d16000 WHERE id % 4 = 0;
VACUUM d16000;
SELECT check_index('d16000_l2'), check_index('d16000_dot'), check_index('d16000_cos');
REINDEX INDEX d16000_cos;
SELECT check_index('d16000_cos'), index_matches_exact('d16000', '<=>', 30, 10);

-- 65,535 dimensions, the most a vector has: 33 parts, at the largest m.
SELECT setseed(0.8);
CREATE TABLE d65535 (id integer PRIMARY KEY, v vector(65535));
INSERT INTO d65535 SELECT i, random_vector(65535, i) FROM generate_series(1, 16) i;
CREATE INDEX d65535_l2 ON d65535 USING vectors (v vector_l2_ops) WITH (m = 100);
CREATE INDEX d65535_dot ON d65535 USING vectors (v vector_dot_ops) WITH (m = 4);
CREATE INDEX d65535_cos ON d65535 USING vectors (v vector_cos_ops);
INSERT INTO d65535 SELECT i, random_vector(65535, i) FROM generate_series(17, 20) i;
SELECT index_matches_exact('d65535', '<->', 18, 5), index_matches_exact('d65535', '<#>', 3, 5),
       index_matches_exact('d65535', '<=>', 9, 5);
DELETE FROM d65535 WHERE id IN (2, 18);
VACUUM d65535;
SELECT check_index('d65535_l2'), check_index('d65535_dot'), check_index('d65535_cos');
SELECT index_matches_exact('d65535', '<->', 1, 5);

-- Layer-0 lists kept apart from their elements (docs/INDEX.md): at 384
-- dimensions a page takes 4 whole nodes and leaves two thirds of a node
-- empty, so CREATE INDEX keeps some lists in that room instead; 900 rows
-- need fewer than the 226 pages they would take whole. Searches, inserts
-- (which relink those lists), VACUUM (which frees them) and the check.
SELECT setseed(0.9);
CREATE TABLE d384 (id integer PRIMARY KEY, v vector(384));
INSERT INTO d384 SELECT i, random_vector(384, i) FROM generate_series(1, 900) i;
CREATE INDEX d384_l2 ON d384 USING vectors (v vector_l2_ops);
CREATE INDEX d384_cos ON d384 USING vectors (v vector_cos_ops);
SELECT pg_relation_size('d384_l2') / 8192 < 210 AS l2_smaller, pg_relation_size('d384_cos') / 8192 < 210 AS cos_smaller;
SET vectors.hnsw_ef_search = 1000;
SELECT index_matches_exact('d384', '<->', 5, 10), index_matches_exact('d384', '<=>', 600, 10);
INSERT INTO d384 SELECT i, random_vector(384, i) FROM generate_series(901, 1000) i;
SELECT check_index('d384_l2'), check_index('d384_cos');
DELETE FROM d384 WHERE id % 3 = 0;
VACUUM d384;
SELECT check_index('d384_l2'), check_index('d384_cos');
SELECT index_matches_exact('d384', '<->', 950, 10), index_matches_exact('d384', '<=>', 1, 10);
RESET vectors.hnsw_ef_search;

DROP TABLE d2000, d4096, d16000, d65535, d384;
DROP FUNCTION random_vector, index_matches_exact, check_index;
