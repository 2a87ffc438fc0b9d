-- vbase: with a filter, a basic scan stops after ef_search candidates and
-- the filter leaves fewer rows than LIMIT; a vbase scan streams until LIMIT
-- is met. The scenario of the project's seed document.

CREATE TABLE images (id integer PRIMARY KEY, author text NOT NULL, embedding vector(16) NOT NULL);
INSERT INTO images
SELECT i, CASE WHEN i % 2 = 0 THEN 'Allen' ELSE 'Bob' END,
       (SELECT array_agg(sin(i * 0.37 + d * 1.1) + cos(i * 0.11 * d))::real[] FROM generate_series(1, 16) d)
FROM generate_series(1, 2000) i;
CREATE INDEX ON images USING vectors (embedding vector_l2_ops);
SET enable_seqscan = off;
SET vectors.hnsw_ef_search = 64;

CREATE TEMP TABLE q AS SELECT embedding AS v FROM images WHERE id = 77;

SET vectors.search_mode = basic;
SELECT count(*) < 64 AS fewer_than_limit
FROM (SELECT id FROM images WHERE author != 'Allen' ORDER BY embedding <-> (SELECT v FROM q) LIMIT 64) s;

SET vectors.search_mode = vbase;
SELECT count(*) AS rows, count(*) FILTER (WHERE author = 'Allen') AS allen_rows
FROM (SELECT id, author FROM images WHERE author != 'Allen' ORDER BY embedding <-> (SELECT v FROM q) LIMIT 64) s;

-- Recall against the exact filtered answer.
CREATE TEMP TABLE by_index AS
SELECT id FROM images WHERE author != 'Allen' ORDER BY embedding <-> (SELECT v FROM q) LIMIT 64;
SET enable_indexscan = off;
SET enable_seqscan = on;
CREATE TEMP TABLE exact AS
SELECT id FROM images WHERE author != 'Allen' ORDER BY embedding <-> (SELECT v FROM q) LIMIT 64;
RESET enable_indexscan;
SET enable_seqscan = off;
SELECT (SELECT count(*) FROM by_index JOIN exact USING (id)) / 64.0 >= 0.95 AS recall_at_least_95;

-- The first rows come in exact distance order: the distances are collected
-- in the order the scan returned them (array_agg over the scan, numbered
-- WITH ORDINALITY) and each must be >= the one before it. Nothing re-sorts
-- them, so a scan returning rows out of order makes this false (as it is
-- for the same query ordered by id instead).
SELECT count(*) AS rows, bool_and(d >= prev) AS ordered FROM (
    SELECT d, lag(d, 1, 0) OVER (ORDER BY n) AS prev
    FROM unnest((SELECT array_agg(embedding <-> (SELECT v FROM q)) FROM (
            SELECT embedding FROM images ORDER BY embedding <-> (SELECT v FROM q) LIMIT 40) s))
         WITH ORDINALITY AS u(d, n)) t;

-- A small table streamed to the end returns exactly every row.
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM images ORDER BY embedding <-> (SELECT v FROM q)) s;
-- A very selective filter still finds all its rows.
SELECT count(*) FROM (SELECT id FROM images WHERE id % 500 = 0 ORDER BY embedding <-> (SELECT v FROM q) LIMIT 10) s;

-- The shapes applications use: OFFSET pagination ...
SELECT count(*) FROM (SELECT id FROM images WHERE author = 'Bob' ORDER BY embedding <-> (SELECT v FROM q) LIMIT 20 OFFSET 100) s;
-- ... SET LOCAL inside a transaction (immich) ...
BEGIN;
SET LOCAL vectors.search_mode = basic;
SET LOCAL vectors.hnsw_ef_search = 10;
SELECT count(*) FROM (SELECT id FROM images ORDER BY embedding <-> (SELECT v FROM q) LIMIT 50) s;
COMMIT;
SHOW vectors.search_mode;
-- ... prepared statements with the query vector as a parameter ...
PREPARE near(vector, integer) AS
    SELECT count(*) FROM (SELECT id FROM images WHERE author = 'Bob' ORDER BY embedding <-> $1 LIMIT $2) s;
SELECT v AS query_vector FROM q \gset
EXECUTE near(:'query_vector', 100);
EXECUTE near(:'query_vector', 700);
DEALLOCATE near;
-- ... cursors fetching in batches ...
DO $$
DECLARE
    c refcursor;
    r record;
    batch integer;
    total integer := 0;
BEGIN
    OPEN c FOR SELECT id, author FROM images WHERE author = 'Bob' ORDER BY embedding <-> (SELECT v FROM q);
    FOR batch IN 1..3 LOOP
        FOR i IN 1..100 LOOP
            FETCH c INTO r;
            EXIT WHEN NOT FOUND;
            IF r.author <> 'Bob' THEN RAISE EXCEPTION 'filter broken'; END IF;
            total := total + 1;
        END LOOP;
        RAISE NOTICE 'after batch %: % rows', batch, total;
    END LOOP;
    MOVE FORWARD ALL IN c;
    CLOSE c;
END $$;
-- ... joins with a filter on another table ...
CREATE TABLE authors (name text PRIMARY KEY, blocked boolean);
INSERT INTO authors VALUES ('Allen', true), ('Bob', false);
SELECT count(*) FROM (
    SELECT i.id FROM images i JOIN authors a ON a.name = i.author
    WHERE NOT a.blocked ORDER BY i.embedding <-> (SELECT v FROM q) LIMIT 64) s;
-- ... and partitioned tables, one index per partition, merged by the planner.
CREATE TABLE parts (id integer, author text, embedding vector(16)) PARTITION BY HASH (id);
CREATE TABLE parts_0 PARTITION OF parts FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE parts_1 PARTITION OF parts FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO parts SELECT * FROM images;
CREATE INDEX ON parts USING vectors (embedding vector_l2_ops);
EXPLAIN (COSTS OFF) SELECT id FROM parts WHERE author != 'Allen' ORDER BY embedding <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 64;
SELECT count(*), count(*) FILTER (WHERE author = 'Allen')
FROM (SELECT id, author FROM parts WHERE author != 'Allen' ORDER BY embedding <-> (SELECT v FROM q) LIMIT 64) s;

-- A statement timeout cancels a long stream; the session stays healthy.
SET statement_timeout = '1ms';
SELECT count(*) FROM (SELECT a.id FROM images a, images b WHERE a.id = b.id
    ORDER BY a.embedding <-> (SELECT v FROM q)) s; \echo sqlstate :LAST_ERROR_SQLSTATE
RESET statement_timeout;
SELECT count(*) FROM (SELECT id FROM images ORDER BY embedding <-> (SELECT v FROM q) LIMIT 5) s;

DROP TABLE images, authors, parts;
