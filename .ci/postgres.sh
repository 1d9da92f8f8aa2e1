#!/usr/bin/env bash
# Starts a throw-away PostgreSQL server on 127.0.0.1 for the store tests and prints its URL.
# Best effort: prints nothing (and the PostgreSQL tests skip) when no server can be had.
set -u
port=$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ] && command -v apt-get >/dev/null; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } \
    >/dev/null 2>&1
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
fi
[ -n "$bin" ] || exit 0
id postgres >/dev/null 2>&1 || exit 0
data=$(mktemp -d /tmp/newsbot-pg.XXXXXX)
chown postgres "$data"
run() { su postgres -s /bin/sh -c "$1" >/dev/null 2>&1; }
run "$bin/initdb -D $data -A trust -U postgres" || exit 0
run "$bin/pg_ctl -D $data -w -l $data/log -o '-k /tmp -p $port -c listen_addresses=127.0.0.1' start" \
  || exit 0
echo "postgresql://postgres@127.0.0.1:$port/postgres"
