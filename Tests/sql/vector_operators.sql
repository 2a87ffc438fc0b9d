-- Distance operators and functions, arithmetic.

-- The issue's acceptance example: squared Euclidean distance.
SELECT '[1,2,3]'::vector <-> '[4,6,3]' AS l2_squared;
SELECT '[1,2,3]'::vector <#> '[4,6,3]' AS negative_dot;
SELECT '[1,2]'::vector <=> '[2,4]' AS cosine_same_direction,
       '[1,0]'::vector <=> '[0,1]' AS cosine_orthogonal,
       '[1,0]'::vector <=> '[-1,0]' AS cosine_opposite;
-- Cosine distance with a zero vector is NaN (documented), for operator and function.
SELECT '[0,0]'::vector <=> '[1,2]' AS cosine_zero, cosine_distance('[1,2]', '[0,0]') AS cosine_zero_fn;
SELECT pg_typeof('[1]'::vector <-> '[2]'), pg_typeof(l2_distance('[1]', '[2]'));

SELECT l2_distance('[1,2,3]', '[4,6,3]'), inner_product('[1,2,3]', '[4,6,3]'),
       round(cosine_distance('[1,2,3]', '[4,6,3]')::numeric, 6) AS cosine;
SELECT vector_dims('[1,2,3]'), vector_norm('[3,4]'), vector_normalize('[3,4]'),
       vector_normalize('[0,0,0]') AS normalize_zero;

-- Agreement between the SIMD kernels and a plain SQL computation on
-- random vectors of awkward lengths.
WITH pairs AS (
    SELECT n, array_agg(random()::real) AS a, array_agg(random()::real) AS b
    FROM generate_series(1, 130) n, generate_series(1, n) i GROUP BY n
), exact AS (
    SELECT n, a::vector AS va, b::vector AS vb,
        (SELECT sum((x - y)::float8 * (x - y)) FROM unnest(a, b) u(x, y)) AS l2,
        (SELECT sum(x::float8 * y) FROM unnest(a, b) u(x, y)) AS dot,
        (SELECT sum(x::float8 * x) FROM unnest(a) u(x)) AS aa,
        (SELECT sum(y::float8 * y) FROM unnest(b) u(y)) AS bb
    FROM pairs
)
SELECT count(*) FILTER (WHERE abs((va <-> vb) - l2) > 1e-4 * greatest(l2, 1)) AS l2_bad,
       count(*) FILTER (WHERE abs(-(va <#> vb) - dot) > 1e-4 * greatest(dot, 1)) AS dot_bad,
       count(*) FILTER (WHERE abs((va <=> vb) - (1 - dot / sqrt(aa * bb))) > 1e-4) AS cos_bad,
       count(*) AS pairs
FROM exact;

-- Element-wise arithmetic.
SELECT '[1,2,3]'::vector + '[4,5,6]', '[1,2,3]'::vector - '[4,5,6]', '[1,2,3]'::vector * '[4,5,6]';
SELECT '[3e38]'::vector + '[3e38]'; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[3e38]'::vector * '[2]'; \echo sqlstate :LAST_ERROR_SQLSTATE

-- Mismatched dimensions: every binary operator names both dimensions.
SELECT '[1,2]'::vector <-> '[1,2,3]'; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[1,2]'::vector <#> '[1,2,3]'; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[1,2]'::vector <=> '[1,2,3]'; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT l2_distance('[1,2]', '[1,2,3]'); \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT inner_product('[1,2]', '[1,2,3]'); \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cosine_distance('[1,2]', '[1,2,3]'); \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[1,2]'::vector + '[1,2,3]'; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[1,2]'::vector - '[1,2,3]'; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[1,2]'::vector * '[1,2,3]'; \echo sqlstate :LAST_ERROR_SQLSTATE

-- Exact nearest neighbours by sequential scan.
CREATE TABLE points (id integer, v vector(2));
INSERT INTO points SELECT i, ARRAY[i % 10, i / 10]::real[] FROM generate_series(0, 99) i;
SELECT id, v, v <-> '[3.2,4.9]' AS d FROM points ORDER BY v <-> '[3.2,4.9]' LIMIT 3;
SELECT id FROM points ORDER BY v <#> '[1,1]' LIMIT 3;
SELECT id FROM points WHERE id > 0 ORDER BY v <=> '[1,0]', id LIMIT 3;
DROP TABLE points;

-- Volatility and parallel safety are declared.
SELECT p.proname, p.provolatile, p.proparallel, p.proisstrict
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'vectors'
WHERE p.provolatile <> 'i' OR p.proparallel <> 's' OR NOT p.proisstrict
ORDER BY 1;
