#!/usr/bin/env bash
# Throwaway PostgreSQL cluster on 127.0.0.1 for distributed tuning / MLflow tracking.
#
#   scripts/postgres.sh start [DIR] [PORT]   install PostgreSQL if missing (Debian: apt-get install
#                                            postgresql), initdb DIR (default: a new temp dir), start it
#                                            on 127.0.0.1:PORT (default: a random free port) and print
#                                            PGDIR=, PGPORT=, PGURL= lines (eval-able)
#   scripts/postgres.sh createdb DIR NAME... create databases in the running cluster
#   scripts/postgres.sh stop DIR [--rm]      stop the cluster (and delete DIR with --rm)
#
# The cluster is for one machine's loopback only: superuser "postgres", trust authentication
# on 127.0.0.1, Unix socket inside DIR. PostgreSQL refuses to run as root, so when this script
# runs as root the server runs as the system user "postgres" (created by the Debian package).
set -euo pipefail

die() { echo "postgres.sh: $*" >&2; exit 1; }

pg_bindir() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
    done
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"; return 0
    fi
    return 1
}

install_postgres() {
    command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and apt-get is unavailable"
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "PostgreSQL is not installed; run as root or install package 'postgresql'"
        sudo="sudo"
    fi
    echo "postgres.sh: installing the Debian package postgresql" >&2
    export DEBIAN_FRONTEND=noninteractive
    # Only the binaries are needed: do not let the package create and start its own cluster.
    $sudo mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.d/50-divergence.conf >/dev/null
    if ! $sudo apt-get install -y -q --no-install-recommends postgresql >&2; then
        $sudo apt-get update -q >&2
        $sudo apt-get install -y -q --no-install-recommends postgresql >&2
    fi
}

# Run a command as the cluster owner (root -> user "postgres"), from a directory it can enter.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        if command -v runuser >/dev/null 2>&1; then
            (cd / && runuser -u postgres -- "$@")
        else
            (cd / && setpriv --reuid=postgres --regid=postgres --init-groups -- "$@")
        fi
    else
        "$@"
    fi
}

free_port() {
    python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
PY
}

cmd_start() {
    local dir="${1:-}" port="${2:-}" bin
    bin="$(pg_bindir)" || { install_postgres; bin="$(pg_bindir)" || die "initdb/pg_ctl not found after install"; }
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    [ -n "$dir" ] || dir="$(mktemp -d "${TMPDIR:-/tmp}/divergence-pg.XXXXXX")"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    [ -n "$port" ] || port="$(free_port)"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$dir"
        chmod 700 "$dir"
    fi
    as_owner test -w "$dir" -a -x "$dir" || die "$dir is not writable by $( [ "$(id -u)" = 0 ] && echo postgres || id -un) (its parent must be traversable)"
    as_owner mkdir -p "$dir/data"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    fi
    echo "$port" >"$dir/port"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/data -c fsync=off -c max_connections=200" start >&2 \
        || { cat "$dir/data/server.log" >&2 || true; die "pg_ctl start failed"; }
    echo "PGDIR=$dir"
    echo "PGPORT=$port"
    echo "PGURL=postgresql://postgres@127.0.0.1:$port"
}

cmd_createdb() {
    local dir="${1:?usage: createdb DIR NAME...}" bin port name
    shift
    bin="$(pg_bindir)" || die "PostgreSQL is not installed"
    port="$(cat "$dir/port")"
    for name in "$@"; do
        "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$name"
    done
}

cmd_stop() {
    local dir="${1:?usage: stop DIR [--rm]}" bin
    bin="$(pg_bindir)" || die "PostgreSQL is not installed"
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >&2 || true
    fi
    if [ "${2:-}" = "--rm" ]; then rm -rf "$dir"; fi
}

case "${1:-}" in
    start) shift; cmd_start "$@" ;;
    createdb) shift; cmd_createdb "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
