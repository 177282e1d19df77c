#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the tests (scripts/test.sh, tests/*/pg_*_test.cpp).
#
#   scripts/pg-cluster.sh start DIR    create the cluster in DIR if needed, then start it
#   scripts/pg-cluster.sh stop DIR     stop it (fast shutdown); DIR is kept, start resumes it
#   scripts/pg-cluster.sh remove DIR   stop it if it runs and delete DIR
#   scripts/pg-cluster.sh standby PRIMARY_DIR DIR
#                                      a hot standby of the cluster in PRIMARY_DIR, streaming from
#                                      it (pg_basebackup -R, application_name 'standby'), in DIR,
#                                      started; DIR/uri and DIR/port as for start
#   scripts/pg-cluster.sh promote DIR  make the standby in DIR a primary (pg_ctl promote)
#   scripts/pg-cluster.sh crash DIR    stop it at once, as a power cut would (immediate shutdown:
#                                      no checkpoint, nothing more sent to a standby)
#
# The cluster listens on a Unix socket in DIR and on 127.0.0.1 (or $AUTHD_PG_HOST: an address of
# a network namespace the script runs in, under ip netns exec) at a free port (kept across
# restarts). Local access is trusted except for the role authd_pw, which must give its password
# over TCP (for the wrong-credentials tests). DIR/uri holds the URI for the tests,
# postgresql://authd@HOST:PORT/authd_test; DIR/port the port. It is for tests only: fsync is
# off and every local user may connect as anyone.
#
# initdb refuses to run as root: as root, the server runs as the postgres user, which owns DIR.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit 2
}

command=${1:-}
if [[ $command == standby ]]; then
    (($# == 3)) || usage
    primary=$2
    dir=$3
else
    (($# == 2)) || usage
    dir=$2
fi
# The newest PostgreSQL installed (Debian 12: 15), unless AUTHD_PG_BIN names one.
pg_bin=${AUTHD_PG_BIN:-$( (find /usr/lib/postgresql -maxdepth 2 -name bin 2>/dev/null || true) | sort -V | tail -n 1)}
if [[ ! -x $pg_bin/initdb ]]; then
    echo "pg-cluster: no PostgreSQL server found (apt-get install postgresql, or set AUTHD_PG_BIN)" >&2
    exit 1
fi
host=${AUTHD_PG_HOST:-127.0.0.1}
data=$dir/data
log=$dir/server.log

# Runs a command as the cluster's owner.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket, sys; s = socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$host"
}

psql_admin() {
    as_owner "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$(cat "$dir/port")" \
        -U postgres -d postgres
}

write_config() {
    cat >>"$data/postgresql.conf" <<EOF
listen_addresses = '$host'
port = $(cat "$dir/port")
unix_socket_directories = '$dir'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
log_min_messages = warning
log_connections = off
EOF
    cat >"$data/pg_hba.conf" <<'EOF'
local all all                  trust
host  all authd_pw samenet      scram-sha-256
host  all all      samenet      trust
local replication all          trust
EOF
}

# authd: owns the test database and may create more (one per test), and drop them WITH (FORCE)
# even while another role's session is still closing; authd_runtime: the least-privilege role of
# docs/operations.md; authd_pw: needs its password (authd_pw_secret).
create_roles() {
    psql_admin <<'EOF'
CREATE ROLE authd LOGIN CREATEDB IN ROLE pg_signal_backend;
CREATE ROLE authd_runtime LOGIN;
CREATE ROLE authd_pw LOGIN PASSWORD 'authd_pw_secret';
CREATE DATABASE authd_test OWNER authd;
EOF
}

# DIR, owned by the cluster's owner, and the port the cluster will listen on.
make_dir() {
    mkdir -p "$dir"
    chmod 700 "$dir"
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres: "$dir"
    fi
    free_port >"$dir/port"
}

# Starts the server of DIR; its log and exit 1 when it does not start.
launch() {
    if ! as_owner "$pg_bin/pg_ctl" -D "$data" -l "$log" -w -t 30 start >/dev/null; then
        echo "pg-cluster: the server did not start; its log:" >&2
        cat "$log" >&2
        exit 1
    fi
}

init_cluster() {
    make_dir
    as_owner "$pg_bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 \
        --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    write_config
}

start() {
    local fresh=0
    if [[ ! -f $data/PG_VERSION ]]; then
        init_cluster
        fresh=1
    fi
    launch
    if ((fresh)); then
        create_roles
        echo "postgresql://authd@$host:$(cat "$dir/port")/authd_test" >"$dir/uri"
    fi
}

standby() {
    make_dir
    as_owner "$pg_bin/pg_basebackup" -h "$primary" -p "$(cat "$primary/port")" -U postgres \
        -D "$data" -R -X stream --checkpoint=fast --no-sync >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    # Its own port and socket (the copied configuration names the primary's), and the name the
    # primary's synchronous_standby_names may list.
    cat >>"$data/postgresql.conf" <<EOF
port = $(cat "$dir/port")
unix_socket_directories = '$dir'
EOF
    echo "primary_conninfo = 'host=$primary port=$(cat "$primary/port") user=postgres application_name=standby'" \
        >>"$data/postgresql.auto.conf"
    launch
    echo "postgresql://authd@$host:$(cat "$dir/port")/authd_test" >"$dir/uri"
}

stop() {
    if [[ -f $data/postmaster.pid ]]; then
        as_owner "$pg_bin/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null
    fi
}

case $command in
    start) start ;;
    stop) stop ;;
    standby) standby ;;
    promote) as_owner "$pg_bin/pg_ctl" -D "$data" -w -t 30 promote >/dev/null ;;
    crash) as_owner "$pg_bin/pg_ctl" -D "$data" -m immediate -w -t 30 stop >/dev/null ;;
    remove)
        if [[ -d $data ]]; then
            stop || true
        fi
        rm -rf -- "$dir"
        ;;
    *) usage ;;
esac
