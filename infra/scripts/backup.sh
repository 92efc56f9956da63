#!/usr/bin/env bash
# Back up Zephyr's PostgreSQL database: pg_dump custom format (-Fc), optionally encrypted.
#
#   infra/scripts/backup.sh [-o FILE] [DATABASE_URL]
#
# DATABASE_URL defaults to $ZEPHYR_DATABASE_URL. The backup is encrypted when
# ZEPHYR_BACKUP_PASSPHRASE or ZEPHYR_BACKUP_PASSPHRASE_FILE is set: OpenSSL AES-256-CBC with a
# PBKDF2-derived key (600000 iterations, random salt), the file then ends in `.enc`. Without -o
# the file is $ZEPHYR_BACKUP_DIR (default .)/zephyr-<database>-<UTC time>.dump[.enc].
# The archive is checked (pg_restore --list) before it replaces FILE: a backup either is
# complete and readable or does not exist. Prints the backup's path.
set -euo pipefail

usage() { echo "usage: $0 [-o FILE] [DATABASE_URL]" >&2; exit 2; }
out=""
while getopts "o:h" opt; do
  case "$opt" in
    o) out="$OPTARG" ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || usage
url="${1:-${ZEPHYR_DATABASE_URL:-}}"
[ -n "$url" ] || { echo "backup: no DATABASE_URL argument and ZEPHYR_DATABASE_URL is unset" >&2; exit 2; }
url="${url/postgresql+asyncpg:/postgresql:}"

pass_args=()
if [ -n "${ZEPHYR_BACKUP_PASSPHRASE_FILE:-}" ]; then
  pass_args=(-pass "file:${ZEPHYR_BACKUP_PASSPHRASE_FILE}")
elif [ -n "${ZEPHYR_BACKUP_PASSPHRASE:-}" ]; then
  pass_args=(-pass env:ZEPHYR_BACKUP_PASSPHRASE)
fi

if [ -z "$out" ]; then
  db="${url##*/}"; db="${db%%\?*}"
  out="${ZEPHYR_BACKUP_DIR:-.}/zephyr-${db}-$(date -u +%Y%m%dT%H%M%SZ).dump"
  [ ${#pass_args[@]} -eq 0 ] || out="${out}.enc"
fi
tmp="${out}.partial"
trap 'rm -f "$tmp"' EXIT
umask 077  # a backup holds every poll and audit event: readable by its owner only

if [ ${#pass_args[@]} -eq 0 ]; then
  pg_dump --format=custom --compress=6 --no-owner --dbname="$url" --file="$tmp"
  pg_restore --list "$tmp" >/dev/null
else
  pg_dump --format=custom --compress=6 --no-owner --dbname="$url" \
    | openssl enc -aes-256-cbc -pbkdf2 -iter 600000 -salt "${pass_args[@]}" -out "$tmp"
  # pg_restore stops after the table of contents; cat drains the rest so that the whole file
  # is decrypted (a truncated or corrupt file fails the padding check at its end).
  openssl enc -d -aes-256-cbc -pbkdf2 -iter 600000 "${pass_args[@]}" -in "$tmp" \
    | { pg_restore --list >/dev/null && cat >/dev/null; }
fi
mv "$tmp" "$out"
trap - EXIT
echo "$out"
