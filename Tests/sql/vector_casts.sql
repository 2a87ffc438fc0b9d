-- Casts between vector and arrays.

SELECT ARRAY[1,2,3]::real[]::vector, ARRAY[1.5,2.5]::double precision[]::vector,
       ARRAY[1,2]::integer[]::vector, ARRAY[1.25,2]::numeric[]::vector;
SELECT '[1,2.5]'::vector::real[];
-- Array types convert on assignment.
CREATE TABLE c (v vector(2));
INSERT INTO c VALUES (ARRAY[1,2]::real[]), (ARRAY[3,4]::float8[]), (ARRAY[5,6]), (ARRAY[7.5,8]::numeric[]);
SELECT * FROM c;
SELECT l2_distance(ARRAY[0,0]::real[]::vector, '[3,4]');
-- Not implicitly: an implicit real[] -> vector cast would make comparisons
-- between real[] values ambiguous for every user of the database.
SELECT ARRAY[1,2]::real[] = ARRAY[1,2]::real[] AS arrays_compare, ARRAY[1]::real[] < ARRAY[2]::real[] AS arrays_order;
SELECT vector_dims(ARRAY[1,2]::real[]); \echo sqlstate :LAST_ERROR_SQLSTATE
-- vector to real[] on assignment.
CREATE TABLE r (a real[]);
INSERT INTO r SELECT v FROM c;
SELECT * FROM r;
DROP TABLE c, r;

-- Typmods apply to casts.
SELECT ARRAY[1,2,3]::real[]::vector(3);
SELECT ARRAY[1,2,3]::real[]::vector(2); \echo sqlstate :LAST_ERROR_SQLSTATE

-- Rejected arrays.
SELECT ARRAY[1,NULL,3]::real[]::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT ARRAY[[1,2],[3,4]]::real[]::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '{}'::real[]::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT ARRAY['NaN']::real[]::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT ARRAY['Infinity']::real[]::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT ARRAY['-Infinity']::float8[]::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT ARRAY[1e39]::float8[]::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT ARRAY[1e-50]::float8[]::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT ARRAY['NaN']::numeric[]::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT ARRAY[1e400]::numeric[]::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT ARRAY['Infinity']::numeric[]::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT ARRAY[1e-400]::numeric[]::vector;
SELECT array_fill(1::real, ARRAY[65536])::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT ARRAY[1,2]::bigint[]::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[1,2]'::vector::integer[]; \echo sqlstate :LAST_ERROR_SQLSTATE
