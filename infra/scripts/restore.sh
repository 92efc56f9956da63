#!/usr/bin/env bash
# Restore a backup made by backup.sh into a database.
#
#   infra/scripts/restore.sh [--clean] FILE [DATABASE_URL]
#
# DATABASE_URL defaults to $ZEPHYR_DATABASE_URL; the database must exist (createdb it first;
# empty, or use --clean to drop and recreate the objects the backup holds). A FILE ending in
# `.enc` is decrypted with ZEPHYR_BACKUP_PASSPHRASE_FILE or ZEPHYR_BACKUP_PASSPHRASE. The restore
# runs in one transaction: it applies completely or not at all (a wrong passphrase or a damaged
# file changes nothing). Stop the services, or at least the writers, while restoring.
set -euo pipefail

usage() { echo "usage: $0 [--clean] FILE [DATABASE_URL]" >&2; exit 2; }
clean=()
if [ "${1:-}" = "--clean" ]; then clean=(--clean --if-exists); shift; fi
[ $# -ge 1 ] && [ $# -le 2 ] || usage
file="$1"
url="${2:-${ZEPHYR_DATABASE_URL:-}}"
[ -n "$url" ] || { echo "restore: no DATABASE_URL argument and ZEPHYR_DATABASE_URL is unset" >&2; exit 2; }
url="${url/postgresql+asyncpg:/postgresql:}"
[ -r "$file" ] || { echo "restore: cannot read $file" >&2; exit 2; }

restore=(pg_restore --no-owner --no-privileges --exit-on-error --single-transaction "${clean[@]}" --dbname="$url")
case "$file" in
  *.enc)
    if [ -n "${ZEPHYR_BACKUP_PASSPHRASE_FILE:-}" ]; then
      pass_args=(-pass "file:${ZEPHYR_BACKUP_PASSPHRASE_FILE}")
    elif [ -n "${ZEPHYR_BACKUP_PASSPHRASE:-}" ]; then
      pass_args=(-pass env:ZEPHYR_BACKUP_PASSPHRASE)
    else
      echo "restore: $file is encrypted: set ZEPHYR_BACKUP_PASSPHRASE(_FILE)" >&2; exit 2
    fi
    # Decrypt fully first: a wrong passphrase must fail before anything is restored.
    tmp="$(mktemp)"; trap 'rm -f "$tmp"' EXIT
    openssl enc -d -aes-256-cbc -pbkdf2 -iter 600000 "${pass_args[@]}" -in "$file" -out "$tmp"
    "${restore[@]}" "$tmp"
    ;;
  *)
    "${restore[@]}" "$file"
    ;;
esac
echo "restored $file"
