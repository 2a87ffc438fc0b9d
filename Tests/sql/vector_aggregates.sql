-- sum(vector) and avg(vector), serial and parallel.

CREATE TABLE agg (g integer, v vector(3));
INSERT INTO agg VALUES (1, '[1,2,3]'), (1, '[3,2,1]'), (2, '[1,1,1]'), (2, NULL), (3, NULL);
SELECT g, sum(v), avg(v) FROM agg GROUP BY g ORDER BY g;
SELECT sum(v), avg(v) FROM agg;
SELECT sum(v), avg(v) FROM agg WHERE false;

-- Mixed dimensions.
CREATE TABLE mixed (v vector);
INSERT INTO mixed VALUES ('[1,2]'), ('[1,2,3]');
SELECT sum(v) FROM mixed; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT avg(v) FROM mixed; \echo sqlstate :LAST_ERROR_SQLSTATE
DROP TABLE mixed;

-- Overflow of the final float4 result.
SELECT sum(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v); \echo sqlstate :LAST_ERROR_SQLSTATE
-- The average of large values does not overflow (summed in double).
SELECT avg(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v);

-- Parallel aggregation uses the combine function and agrees with serial.
CREATE TABLE many (v vector(4));
INSERT INTO many SELECT ARRAY[i, i % 7, -i, 1]::real[] FROM generate_series(1, 200000) i;
ANALYZE many;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF) SELECT sum(v), avg(v) FROM many;
SELECT sum(v), avg(v) FROM many;
RESET max_parallel_workers_per_gather;
SET max_parallel_workers_per_gather = 0;
SELECT sum(v), avg(v) FROM many;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
DROP TABLE many, agg;
