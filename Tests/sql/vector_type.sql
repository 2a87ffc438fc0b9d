-- The vector type: text and binary I/O, type modifiers, storage.

-- Text input: brackets or braces, whitespace anywhere between tokens.
SELECT '[1, 2.5, -3e-2]'::vector;
SELECT '{1,2,3}'::vector;
SELECT '  [ 1 ,	2 , 3 ]  '::vector;
SELECT '[+1.5e+2, .5, 5., -0]'::vector;

-- Output is float4out's shortest exact form, element by element.
SELECT '[1e-5, 0.0001, 123456, 1234567, 3.4028235e38, 1.4e-45, 0.1, 16777216]'::vector;
SELECT v::text = translate((v::real[])::text, '{}', '[]') AS same_as_float4out
FROM (VALUES ('[0.1,0.2,0.3,1e-7,33554432,-999999,123.456]'::vector)) t(v);

-- Round trip through text is exact for random values.
SELECT count(*) AS mismatches
FROM (SELECT array_agg((random() * 10 ^ (random() * 60 - 30))::real) AS a
      FROM generate_series(1, 2000) i GROUP BY i % 20) s
WHERE (a::vector)::text::vector::real[] <> a;

-- Type modifier.
CREATE TABLE items (id integer PRIMARY KEY, v vector(3));
INSERT INTO items VALUES (1, '[1,2,3]'), (2, '[4,5,6]'), (3, NULL);
SELECT * FROM items ORDER BY id;
\d items
INSERT INTO items VALUES (4, '[1,2]'); \echo sqlstate :LAST_ERROR_SQLSTATE
INSERT INTO items VALUES (4, '[1,2,3,4]'); \echo sqlstate :LAST_ERROR_SQLSTATE
UPDATE items SET v = '[1]' WHERE id = 1; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[1,2]'::vector(2), '[1,2]'::vector(3); \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'items'::regclass AND attname = 'v';
CREATE TABLE bad_typmod (v vector(0)); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE TABLE bad_typmod (v vector(65536)); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE TABLE bad_typmod (v vector(3, 4)); \echo sqlstate :LAST_ERROR_SQLSTATE
CREATE TABLE ok_typmod (v vector(65535));
DROP TABLE ok_typmod;

-- The largest vector: 65535 dimensions, in and out.
SELECT vector_dims(array_fill(1.5::real, ARRAY[65535])::vector);
SELECT vector_dims(('[' || repeat('1,', 65534) || '1]')::vector);
SELECT length(('[' || repeat('-1.1754942e-38,', 65534) || '1]')::vector::text);

-- Binary send format: uint16 dimensions, uint16 reserved, big-endian float4s.
SELECT vector_send('[1,2,-0.5]');

-- Binary COPY round trip.
CREATE TABLE binary_copy (id integer, v vector(3));
\copy items (id, v) TO 'results/vectors.bin' WITH (FORMAT binary)
\copy binary_copy FROM 'results/vectors.bin' WITH (FORMAT binary)
SELECT * FROM binary_copy ORDER BY id;

-- Binary input is validated like text input. A bytea column in binary COPY
-- carries raw bytes, which lets the test hand-craft vector payloads.
CREATE TABLE raw_bytes (b bytea);
CREATE TABLE binary_in (v vector);
INSERT INTO raw_bytes VALUES ('\x00010000'::bytea || '\x3f800000'::bytea);
\copy raw_bytes TO 'results/good.bin' WITH (FORMAT binary)
\copy binary_in FROM 'results/good.bin' WITH (FORMAT binary)
SELECT * FROM binary_in;
-- zero dimensions
TRUNCATE raw_bytes; INSERT INTO raw_bytes VALUES ('\x00000000');
\copy raw_bytes TO 'results/bad.bin' WITH (FORMAT binary)
\copy binary_in FROM 'results/bad.bin' WITH (FORMAT binary)
\echo sqlstate :LAST_ERROR_SQLSTATE
-- reserved field set
TRUNCATE raw_bytes; INSERT INTO raw_bytes VALUES ('\x000100073f800000');
\copy raw_bytes TO 'results/bad.bin' WITH (FORMAT binary)
\copy binary_in FROM 'results/bad.bin' WITH (FORMAT binary)
\echo sqlstate :LAST_ERROR_SQLSTATE
-- fewer element bytes than the dimension count says
TRUNCATE raw_bytes; INSERT INTO raw_bytes VALUES ('\x000200003f800000');
\copy raw_bytes TO 'results/bad.bin' WITH (FORMAT binary)
\copy binary_in FROM 'results/bad.bin' WITH (FORMAT binary)
\echo sqlstate :LAST_ERROR_SQLSTATE
-- a huge dimension count with no data behind it
TRUNCATE raw_bytes; INSERT INTO raw_bytes VALUES ('\xffff0000');
\copy raw_bytes TO 'results/bad.bin' WITH (FORMAT binary)
\copy binary_in FROM 'results/bad.bin' WITH (FORMAT binary)
\echo sqlstate :LAST_ERROR_SQLSTATE
-- NaN and infinity
TRUNCATE raw_bytes; INSERT INTO raw_bytes VALUES ('\x000100007fc00000');
\copy raw_bytes TO 'results/bad.bin' WITH (FORMAT binary)
\copy binary_in FROM 'results/bad.bin' WITH (FORMAT binary)
\echo sqlstate :LAST_ERROR_SQLSTATE
TRUNCATE raw_bytes; INSERT INTO raw_bytes VALUES ('\x00010000ff800000');
\copy raw_bytes TO 'results/bad.bin' WITH (FORMAT binary)
\copy binary_in FROM 'results/bad.bin' WITH (FORMAT binary)
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT count(*) AS rows_after_bad_binary FROM binary_in;

-- Storage is EXTERNAL: large vectors move out of line but are not compressed.
SELECT typstorage FROM pg_type WHERE typname = 'vector';
CREATE TABLE big (v vector(2000));
INSERT INTO big SELECT array_fill(0::real, ARRAY[2000])::vector;
SELECT pg_column_size(v) AS stored_bytes FROM big;

-- The longest element text: nine significant digits, a sign and an exponent
-- (15 bytes; three of them once overran the output buffer and crashed).
SELECT '[-1.00459735e-16,-1.00459735e-16,-1.00459735e-16,-0.000100459736]'::vector;

-- NULLs pass through.
SELECT NULL::vector, vector_dims(NULL);

DROP TABLE items, binary_copy, raw_bytes, binary_in, big;
