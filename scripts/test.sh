#!/usr/bin/env bash
# The project's test command (README; .ci/run calls it): installs what is
# missing, builds, runs the Swift unit tests and the SQL regression tests
# against a throwaway PostgreSQL cluster that is always stopped afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/install-deps.sh

echo "== swift test"
swift test 2>&1 | tail -n 40 | grep -v "passed after" || true
# Re-run quietly for the exit status (the build is cached; the tail above
# only keeps the log short).
swift test >/dev/null 2>&1 || { swift test 2>&1 | grep -E "✘|error" | head -50; exit 1; }

echo "== build and install the extension"
make -s >/dev/null
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
$sudo make -s install >/dev/null

echo "== SQL regression tests"
cluster=$(mktemp -d /tmp/vectors-test.XXXXXX)
trap 'scripts/pgcluster.sh stop "$cluster"; rm -rf "$cluster"' EXIT
scripts/pgcluster.sh start "$cluster" 54329
eval "$(scripts/pgcluster.sh env "$cluster")"
rm -rf results regression.diffs regression.out
if ! make -s installcheck; then
    [ -f regression.diffs ] && head -n 300 regression.diffs
    exit 1
fi
