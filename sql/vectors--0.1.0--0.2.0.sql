-- vectors 0.1.0 -> 0.2.0.
--
-- vectors--0.1.0.sql is frozen: it is what databases created by the first
-- release ran. Every object added or changed since goes into this script,
-- so CREATE EXTENSION (which PostgreSQL runs as the 0.1.0 script followed
-- by this one) and ALTER EXTENSION vectors UPDATE on an existing database
-- reach the same catalog.

\echo Use "ALTER EXTENSION vectors UPDATE" to load this file. \quit
