#!/usr/bin/env bash
# The servers the integration tests talk to: PostgreSQL (trust auth, database `test`) and Redis, on loopback.
#
# When something already listens on 127.0.0.1:5432 and 127.0.0.1:6379 (development machines and CI have
# both running), this does nothing. Otherwise it installs Debian's postgresql / redis-server if missing and
# starts throwaway servers that keep nothing worth keeping:
#   PostgreSQL: a new cluster (initdb, trust auth for loopback) in a temporary folder, run with pg_ctl as the
#               `postgres` user, with a `test` database;
#   Redis:      redis-server --save "" --appendonly no (nothing written to disk).
# They stay up for later test runs; the lines printed say how to stop them. Nothing secret is created.
# AUDITOR_PG_PORT / AUDITOR_REDIS_PORT choose other ports (the tests' URLs then come from
# AUDITOR_TEST_PG_URL / AUDITOR_TEST_REDIS_URL).
set -euo pipefail

PG_PORT="${AUDITOR_PG_PORT:-5432}"
REDIS_PORT="${AUDITOR_REDIS_PORT:-6379}"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

listening() {  # is anything accepting connections on 127.0.0.1:$1?
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_listening() {  # wait (bounded) until port $1 accepts connections
  for _ in $(seq 1 100); do
    listening "$1" && return 0
    sleep 0.1
  done
  echo "services: nothing listens on 127.0.0.1:$1 after 10 s" >&2
  return 1
}

apt_install() {
  echo "services: installing Debian packages: $*"
  $SUDO apt-get update -qq
  # policy-rc.d 101: the packages must not start their own default servers (we start throwaway ones)
  local policy=/usr/sbin/policy-rc.d made=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    made=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null || {
    [ "$made" = 1 ] && $SUDO rm -f "$policy"
    return 1
  }
  [ "$made" = 1 ] && $SUDO rm -f "$policy"
  return 0
}

pg_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

start_postgres() {
  [ -n "$(pg_bin)" ] || apt_install postgresql
  local bin dir
  bin="$(pg_bin)"
  dir="$(mktemp -d /tmp/auditor-pg.XXXXXX)"
  chmod 755 "$dir"
  $SUDO chown postgres: "$dir"  # initdb refuses to run as root
  if [ "$(id -u)" = 0 ]; then
    run_pg() { runuser -u postgres -- "$@"; }
  else
    run_pg() { sudo -u postgres "$@"; }
  fi
  run_pg "$bin/initdb" -D "$dir/data" --auth=trust --username=postgres --encoding=UTF8 >/dev/null
  run_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $dir -c fsync=off" start >/dev/null
  run_pg "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres test
  echo "services: PostgreSQL on 127.0.0.1:$PG_PORT (trust, database test) in $dir;" \
       "stop: runuser -u postgres -- $bin/pg_ctl -D $dir/data stop"
}

start_redis() {
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  local dir
  dir="$(mktemp -d /tmp/auditor-redis.XXXXXX)"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --dir "$dir" \
    --daemonize yes --logfile "$dir/server.log" --pidfile "$dir/redis.pid" >/dev/null
  wait_listening "$REDIS_PORT"
  echo "services: Redis on 127.0.0.1:$REDIS_PORT (nothing saved) in $dir; stop: kill \$(cat $dir/redis.pid)"
}

listening "$PG_PORT" || start_postgres
listening "$REDIS_PORT" || start_redis
