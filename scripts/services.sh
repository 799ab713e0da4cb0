#!/usr/bin/env bash
# Make sure the local PostgreSQL and MariaDB the live tests use are installed and running.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# pgbouncer: the rivet-mcp tests read its admin console (started by a test fixture).
if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! [ -x /usr/sbin/mariadbd ] \
  || ! [ -x /usr/sbin/pgbouncer ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql mariadb-server \
    pgbouncer >/dev/null
fi

# Java: the Spark test reads export prefixes with pyspark (tests/live/test_spark.py).
if ! command -v java >/dev/null 2>&1; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
fi

if ! mariadb-admin --no-defaults -h 127.0.0.1 -uroot ping >/dev/null 2>&1; then
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  for _ in $(seq 1 100); do
    mariadb-admin --no-defaults -h 127.0.0.1 -uroot ping >/dev/null 2>&1 && break; sleep 0.2
  done
fi
pg_isready -h 127.0.0.1 -p 5432
