#!/usr/bin/env bash
# Install Debian's `prometheus` package (prometheus + promtool) when either is missing: the tests
# check and unit-test the alert rules with promtool and scrape a running stack with Prometheus.
set -euo pipefail

say() { printf '[prometheus] %s\n' "$*"; }

if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  say "promtool/prometheus missing and no apt-get: install Prometheus 2.x and put both on PATH"
  exit 1
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
say "installing Debian's prometheus package (for promtool and the scrape test)"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus \
  >/dev/null
command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1
