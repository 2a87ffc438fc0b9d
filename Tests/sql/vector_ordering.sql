-- Comparison operators with btree and hash operator classes: ORDER BY,
-- DISTINCT, GROUP BY, unique indexes, hash joins.

SELECT '[1,2]'::vector < '[1,3]', '[1,2]'::vector <= '[1,2]', '[1,2]'::vector = '[1,2]',
       '[1,2]'::vector <> '[1,2]', '[2]'::vector >= '[1,9]', '[1,2]'::vector > '[1]';
-- -0 equals 0, and they hash alike.
SELECT '[-0,1]'::vector = '[0,1]', vector_hash('[-0,1]') = vector_hash('[0,1]');

CREATE TABLE vs (v vector);
INSERT INTO vs VALUES ('[2,1]'), ('[1,2]'), ('[1]'), ('[1,2,0]'), ('[1,2]'), ('[0,5]'), ('[-0,5]');
SELECT v FROM vs ORDER BY v;
SELECT DISTINCT v FROM vs ORDER BY v;
SELECT v, count(*) FROM vs GROUP BY v ORDER BY v;
SET enable_sort = off;
SELECT v, count(*) FROM vs GROUP BY v ORDER BY v;
RESET enable_sort;

CREATE UNIQUE INDEX vs_unique ON vs (v); \echo sqlstate :LAST_ERROR_SQLSTATE
DELETE FROM vs WHERE v IN ('[1,2]', '[-0,5]');
CREATE UNIQUE INDEX vs_unique ON vs (v);
INSERT INTO vs VALUES ('[1,2]'); \echo sqlstate :LAST_ERROR_SQLSTATE
INSERT INTO vs VALUES ('[1,2]');
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM vs WHERE v = '[1,2]';
SELECT * FROM vs WHERE v = '[1,2]';
RESET enable_seqscan;

CREATE INDEX vs_hash ON vs USING hash (v);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM vs WHERE v = '[2,1]';
SELECT * FROM vs WHERE v = '[2,1]';
SELECT * FROM vs WHERE v = '[-0,5]';
INSERT INTO vs VALUES ('[-0,5]');
SELECT * FROM vs WHERE v = '[0,5]';
RESET enable_seqscan;
RESET enable_bitmapscan;

-- Hash join on vectors.
SET enable_mergejoin = off;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT * FROM vs a JOIN vs b USING (v);
SELECT count(*) FROM vs a JOIN vs b USING (v);
RESET enable_mergejoin;
RESET enable_nestloop;
DROP TABLE vs;
