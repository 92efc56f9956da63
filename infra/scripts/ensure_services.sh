#!/usr/bin/env bash
# Start whichever of the local PostgreSQL, Redis and RabbitMQ is down (Debian packages), then
# wait until all three answer. On a machine without them, use `docker compose up -d postgres
# redis rabbitmq` instead.
set -uo pipefail

say() { printf '[services] %s\n' "$*"; }

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }
rabbit_up() { rabbitmq-diagnostics -q check_port_connectivity >/dev/null 2>&1; }

need() {
  command -v "$1" >/dev/null 2>&1 || {
    say "$1 is not installed: install $2 or run 'docker compose up -d postgres redis rabbitmq'"
    exit 1
  }
}

need pg_isready postgresql
need redis-cli redis-server
need rabbitmq-diagnostics rabbitmq-server
# backup.sh/restore.sh (tests/ops/test_backup.py): pg_dump comes with PostgreSQL; OpenSSL encrypts.
need pg_dump postgresql-client
command -v openssl >/dev/null 2>&1 || {
  say "installing openssl"
  (apt-get install -y -qq openssl || (apt-get update -qq && apt-get install -y -qq openssl)) \
    >/dev/null 2>&1 || say "openssl is not installed: install the openssl package"
}

if ! pg_up; then
  say "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
if ! redis_up; then
  say "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi
if ! rabbit_up; then
  say "starting RabbitMQ"
  rabbitmq-server -detached || true
fi

for i in $(seq 1 90); do
  if pg_up && redis_up && rabbit_up; then
    say "PostgreSQL, Redis and RabbitMQ are up"
    exit 0
  fi
  sleep 1
done
pg_up || say "PostgreSQL is still down"
redis_up || say "Redis is still down"
rabbit_up || say "RabbitMQ is still down"
exit 1
