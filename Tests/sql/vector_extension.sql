-- The extension installs into any schema and loads without preloading.
SHOW shared_preload_libraries;
CREATE SCHEMA other;
CREATE EXTENSION vectors SCHEMA other;
DROP EXTENSION vectors;
CREATE EXTENSION vectors SCHEMA other;
SELECT '[1,2,3]'::other.vector OPERATOR(other.<->) '[4,6,3]'::other.vector AS l2_squared;
SET search_path = other;
SELECT vector_dims('[1,2]'), '[1,2]'::vector <=> '[2,4]';
RESET search_path;
SELECT extname, extversion, nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE extname = 'vectors';
SELECT other.vectors_kernel_family() IN ('baseline', 'avx2', 'avx512') AS known_kernel;
DROP EXTENSION vectors;
DROP SCHEMA other;
CREATE EXTENSION vectors;
