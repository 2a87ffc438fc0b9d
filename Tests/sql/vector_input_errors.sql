-- Every malformed literal is an ERROR with SQLSTATE 22P02 or 22003 that
-- quotes the input; the backend stays up (each statement below runs in the
-- same session).
--
-- How the SQL tests record an expected error (every Tests/sql file): psql's
-- default verbosity prints the message (with DETAIL/HINT), and the line
-- `\echo sqlstate :LAST_ERROR_SQLSTATE` after the failing statement prints
-- its SQLSTATE. `\set VERBOSITY verbose` would print the SQLSTATE too, but
-- also a LOCATION line with a C file and line number (ours or PostgreSQL's:
-- "vectors_raise, vectors.c:55", "guc.c:7380"), so any edit of the C code or
-- a PostgreSQL minor release would break the expected files, and pg_regress
-- cannot filter lines; `\set VERBOSITY sqlstate` drops the message.
\set VERBOSITY default
\set SHOW_CONTEXT never
\set ON_ERROR_STOP 0

SELECT ''::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[]'::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '{}'::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '1,2,3'::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[1,2,3'::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[1,2,3}'::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[1,2]x'::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[1,2] [3]'::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[1 2]'::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[1,,2]'::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[1,]'::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[NaN]'::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[1,nan]'::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[Infinity]'::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[-inf]'::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[1e39]'::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[-3.5e38]'::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[1e-46]'::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[[1,2]]'::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[1,[2]]'::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[0x10]'::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[1e]'::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT '[abc]'::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
-- More than 65535 elements (the message quotes only the start of the text).
SELECT ('[' || repeat('1,', 65535) || '1]')::vector; \echo sqlstate :LAST_ERROR_SQLSTATE
-- Very long garbage does not produce a very long message.
SELECT ('[' || repeat('9', 100000) || 'x]')::vector; \echo sqlstate :LAST_ERROR_SQLSTATE

-- SQLSTATEs, checked explicitly.
DO $$
DECLARE
    literal text;
    state text;
BEGIN
    FOREACH literal IN ARRAY ARRAY['[]', '[1,2', '[NaN]', '[Infinity]', '[[1]]', '[1]x', 'junk',
                                   '[1e39]', '[1e-46]']
    LOOP
        BEGIN
            PERFORM literal::vector;
            RAISE NOTICE '% accepted', literal;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
            RAISE NOTICE '% -> %', literal, state;
        END;
    END LOOP;
END $$;

-- The same literals through a table insert: nothing is stored.
CREATE TABLE t (v vector);
INSERT INTO t VALUES ('[1,2,3]'), ('[1,2,'); \echo sqlstate :LAST_ERROR_SQLSTATE
SELECT count(*) FROM t;
DROP TABLE t;

-- Still alive.
SELECT '[1,2,3]'::vector AS backend_alive;
