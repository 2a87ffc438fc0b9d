#!/usr/bin/env bash
# imgsearch end to end (issue 6): indexing rate of 1,000 real images at full
# ViT-B/32 size vs the pure embedding rate of clip-bench in the same run, and
# search latency on 100,000 rows; written to bench/results/imgsearch.md.
#
#   bench/imgsearch/run.sh            (make bench-imgsearch)
#
# Needs the system PostgreSQL (pg_config on PATH) with the extension installed
# (`make install`), Debian's openclipart-png and mate-backgrounds, and PyPI for
# the venvs (.venv-clip to make the model once, .venv for numpy and psycopg).
# Settings (environment):
#   MODEL_DIR   full-size random-weight model, made here if missing
#               (default ${XDG_CACHE_HOME:-~/.cache}/vectors-bench/clip-b32, ~600 MB, outside the repo)
#   ROUNDS=2    pure rate + index runs (batch 16 and 32) repeated, one after the other
#   IMAGES=1000 ROWS=100000 PHOTOS=1 (0: skip the JPEG-photo run) PORT=54361
#   QUIET_WAIT=0  minutes to wait for a 1-minute load average below 0.7 before timing
#   KEEP=0      1 keeps the work directory (images, cluster, raw JSON records)
#   OUT=bench/results/imgsearch.md
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
MODEL_DIR=${MODEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vectors-bench/clip-b32}
ROUNDS=${ROUNDS:-2}
IMAGES=${IMAGES:-1000}
ROWS=${ROWS:-100000}
PHOTOS=${PHOTOS:-1}
PORT=${PORT:-54361}
QUIET_WAIT=${QUIET_WAIT:-0}
KEEP=${KEEP:-0}
OUT=${OUT:-$repo/bench/results/imgsearch.md}
THREADS=2
helper="python3 $repo/bench/imgsearch/helper.py"
step() { echo "== $(date +%H:%M:%S) $*" >&2; }

# The model (reference.json is written last, so it marks a complete one).
if [ ! -f "$MODEL_DIR/reference.json" ]; then
    step "making the full-size random-weight model in $MODEL_DIR"
    scripts/clip-fixtures.sh --full-size "$MODEL_DIR"
fi

step "building release binaries"
for product in imgsearch clip-bench imgsearch-bench; do
    swift build -c release --product "$product" 2>&1 | tail -n 1
done
bin=$(swift build -c release --show-bin-path)
py=$(scripts/python-env.sh numpy "psycopg[binary]")/bin/python

work=${WORK:-$(mktemp -d /tmp/imgsearch-bench.XXXXXX)}
mkdir -p "$work/results"
results=$work/results
cleanup() {
    scripts/pgcluster.sh stop "$work/pg" || true
    if [ "$KEEP" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

step "copying images to $work"
$helper select-clipart /usr/share/openclipart/png "$IMAGES" 224 "$work/images" >"$results/clipart.json"
if [ "$PHOTOS" = 1 ]; then
    $helper select-photos /usr/share/backgrounds/mate 4 "$work/photos" >"$results/photos.json"
fi

step "starting PostgreSQL ($(pg_config --version)) in $work/pg, port $PORT"
scripts/pgcluster.sh start "$work/pg" "$PORT"
conninfo() { echo "host=$work/pg port=$PORT user=postgres dbname=$1"; }
sql() { psql -X -q -v ON_ERROR_STOP=1 -h "$work/pg" -p "$PORT" -U postgres -d postgres -c "$1"; }
extension=$(psql -X -At -h "$work/pg" -p "$PORT" -U postgres -d postgres \
    -c "SELECT default_version FROM pg_available_extensions WHERE name = 'vectors'")
[ -n "$extension" ] || { echo "the vectors extension is not installed in this PostgreSQL (make install)" >&2; exit 1; }

if [ "$QUIET_WAIT" -gt 0 ]; then
    for _ in $(seq "$QUIET_WAIT"); do
        awk '{exit !($1 < 0.7)}' /proc/loadavg && break
        step "waiting for a quiet machine: load $(cut -d' ' -f1-3 /proc/loadavg)"
        sleep 60
    done
fi

MODEL_DIR=$MODEL_DIR ROUNDS=$ROUNDS EXTENSION=$extension REPO=$repo python3 - >"$results/env.json" <<'EOF'
import json, os, platform, subprocess
def sh(c): return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
cpu = sh("lscpu | sed -n 's/^Model name: *//p'")
print(json.dumps({
    "date": sh("date -u '+%Y-%m-%d %H:%M UTC'"), "commit": sh(f"git -C {os.environ['REPO']} rev-parse --short HEAD"),
    "cpu": cpu, "cores": os.cpu_count(), "memory": sh("free -g | awk '/Mem:/{print $2\" GiB\"}'"),
    "os": sh(". /etc/os-release && echo $PRETTY_NAME"), "swift": sh("swift --version 2>&1 | head -n 1"),
    "postgres": sh("pg_config --version").replace("PostgreSQL ", ""), "extension": os.environ["EXTENSION"],
    "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""), "rounds": int(os.environ["ROUNDS"]),
    "load_start": [float(x) for x in open("/proc/loadavg").read().split()[:3]],
    "model": os.environ["MODEL_DIR"]}))
EOF

for round in $(seq "$ROUNDS"); do
    step "round $round: clip-bench (pure embedding rate, $THREADS threads)"
    CLIP_BENCH_IMAGES=128 $helper timed "$results/r$round-clip.json" -- "$bin/clip-bench" "$MODEL_DIR" "$THREADS"
    for batch in 16 32; do
        step "round $round: imgsearch index, batch $batch, fresh database"
        sql "CREATE DATABASE idx_r${round}_b$batch"
        $helper timed "$results/r$round-index-b$batch.json" -- "$bin/imgsearch" index --db "$(conninfo "idx_r${round}_b$batch")" \
            --model "$MODEL_DIR" --threads "$THREADS" --quiet --batch-size "$batch" "$work/images"
    done
done

step "the indexer's stages one after the other, batch 16, fresh database (imgsearch-bench prepare)"
sql "CREATE DATABASE stages"
$helper timed "$results/prepare-b16.json" -- "$bin/imgsearch-bench" prepare --model "$MODEL_DIR" --threads "$THREADS" \
    --batch-size 16 --db "$(conninfo stages)" "$work/images"

if [ "$PHOTOS" = 1 ]; then
    step "JPEG photos: imgsearch index and imgsearch-bench prepare, batch 16"
    sql "CREATE DATABASE photos"
    $helper timed "$results/photos-index-b16.json" -- "$bin/imgsearch" index --db "$(conninfo photos)" \
        --model "$MODEL_DIR" --threads "$THREADS" --quiet --batch-size 16 "$work/photos"
    sql "CREATE DATABASE photo_stages"
    $helper timed "$results/photos-prepare-b16.json" -- "$bin/imgsearch-bench" prepare --model "$MODEL_DIR" \
        --threads "$THREADS" --batch-size 16 --db "$(conninfo photo_stages)" "$work/photos"
fi

step "search database: $ROWS rows (copy of round 1's batch-16 database + synthetic rows, index rebuilt)"
sql "CREATE DATABASE search TEMPLATE idx_r1_b16"
"$py" bench/imgsearch/helper.py fill "$(conninfo search)" "$ROWS" | tee "$results/fill.json"

step "search latency: the whole CLI, 50 texts"
$helper cli "$results/cli.json" bench/imgsearch/queries.txt 50 -- "$bin/imgsearch" search --db "$(conninfo search)" \
    --model "$MODEL_DIR" --threads "$THREADS" --limit 10

step "CLI start-up: imgsearch --help and imgsearch embed --text (no database), 20 runs each"
$helper repeat "$results/cli-help.json" 20 -- "$bin/imgsearch" --help
$helper repeat "$results/cli-embed.json" 20 -- "$bin/imgsearch" embed --model "$MODEL_DIR" --threads "$THREADS" \
    --text "a red mushroom" --format vector

step "search latency: in process, 200 texts"
$helper timed "$results/search-inprocess.json" -- "$bin/imgsearch-bench" search --model "$MODEL_DIR" \
    --db "$(conninfo search)" --queries bench/imgsearch/queries.txt --count 200 --threads "$THREADS"

$helper report "$results" "$OUT"
step "wrote $OUT"
