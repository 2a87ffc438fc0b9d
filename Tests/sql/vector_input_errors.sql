-- Every malformed literal is an ERROR with SQLSTATE 22P02 or 22003 that
-- quotes the input; the backend stays up (each statement below runs in the
-- same session).
\set VERBOSITY default
\set SHOW_CONTEXT never
\set ON_ERROR_STOP 0

SELECT ''::vector;
SELECT '[]'::vector;
SELECT '{}'::vector;
SELECT '1,2,3'::vector;
SELECT '[1,2,3'::vector;
SELECT '[1,2,3}'::vector;
SELECT '[1,2]x'::vector;
SELECT '[1,2] [3]'::vector;
SELECT '[1 2]'::vector;
SELECT '[1,,2]'::vector;
SELECT '[1,]'::vector;
SELECT '[NaN]'::vector;
SELECT '[1,nan]'::vector;
SELECT '[Infinity]'::vector;
SELECT '[-inf]'::vector;
SELECT '[1e39]'::vector;
SELECT '[-3.5e38]'::vector;
SELECT '[1e-46]'::vector;
SELECT '[[1,2]]'::vector;
SELECT '[1,[2]]'::vector;
SELECT '[0x10]'::vector;
SELECT '[1e]'::vector;
SELECT '[abc]'::vector;
-- More than 65535 elements (the message quotes only the start of the text).
SELECT ('[' || repeat('1,', 65535) || '1]')::vector;
-- Very long garbage does not produce a very long message.
SELECT ('[' || repeat('9', 100000) || 'x]')::vector;

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
INSERT INTO t VALUES ('[1,2,3]'), ('[1,2,');
SELECT count(*) FROM t;
DROP TABLE t;

-- Still alive.
SELECT '[1,2,3]'::vector AS backend_alive;
