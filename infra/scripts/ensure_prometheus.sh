#!/usr/bin/env bash
# Install Debian's `prometheus` (prometheus + promtool) and `prometheus-alertmanager`
# (prometheus-alertmanager + amtool) when one is missing: the tests check and unit-test the alert
# rules with promtool, scrape a running stack with Prometheus, and deliver an alert through
# Alertmanager; `make run` starts both beside the stack with ZEPHYR_MONITORING=1.
set -euo pipefail

say() { printf '[prometheus] %s\n' "$*"; }

have_all() {
  command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 &&
    command -v amtool >/dev/null 2>&1 &&
    { command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1; }
}

if have_all; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  say "prometheus/promtool/alertmanager/amtool missing and no apt-get: install Prometheus 2.x and"
  say "Alertmanager 0.25+ and put them on PATH"
  exit 1
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
say "installing Debian's prometheus and prometheus-alertmanager packages"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  prometheus prometheus-alertmanager >/dev/null
have_all
