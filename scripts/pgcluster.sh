#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and the demo.
#
#   scripts/pgcluster.sh start DIR [PORT]   initdb + start; prints nothing else
#   scripts/pgcluster.sh stop DIR           fast shutdown (no error if not running)
#   scripts/pgcluster.sh env DIR            prints PGHOST/PGPORT/PGUSER exports
#
# The server listens only on a unix socket inside DIR and never runs as root:
# when invoked as root it runs as the `postgres` system user (created by the
# postgresql packages), which must be able to reach DIR.
set -euo pipefail

PG_CONFIG=${PG_CONFIG:-pg_config}
BINDIR=$("$PG_CONFIG" --bindir)

as_server_user() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

command=${1:?usage: pgcluster.sh start|stop|env DIR [PORT]}
dir=${2:?usage: pgcluster.sh start|stop|env DIR [PORT]}
port=${3:-54329}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

case "$command" in
start)
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$dir"
        # The server user needs to traverse every parent of DIR.
        d=$dir
        while [ "$d" != / ]; do chmod o+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_server_user "$BINDIR/initdb" -D "$dir/data" -U postgres -A trust --no-sync \
            -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
            { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    echo "$port" >"$dir/port"
    as_server_user "$BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-k $dir -c listen_addresses='' -p $port -c fsync=off" start >/dev/null ||
        { cat "$dir/server.log" >&2; exit 1; }
    ;;
stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_server_user "$BINDIR/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
env)
    echo "export PGHOST=$dir PGPORT=$(cat "$dir/port" 2>/dev/null || echo "$port") PGUSER=postgres PGDATABASE=postgres"
    ;;
*)
    echo "unknown command: $command" >&2
    exit 2
    ;;
esac
