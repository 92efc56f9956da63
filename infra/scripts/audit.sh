#!/usr/bin/env bash
# `make audit`: scan the locked dependencies (uv.lock, every package of the workspace, dev tools
# included) for known vulnerabilities with pip-audit (pinned), which asks PyPI's advisory data.
# Strict: a dependency that cannot be audited fails the run as a vulnerability does.
set -euo pipefail

PIP_AUDIT_VERSION="2.10.1"
UV="${UV:-uv}"
command -v "$UV" >/dev/null 2>&1 || UV="python3 -m uv"
req="$(mktemp)"
trap 'rm -f "$req"' EXIT
$UV export --frozen --all-packages --no-emit-workspace --no-hashes --format requirements-txt \
  --quiet > "$req"
echo "[audit] $(grep -c '==' "$req") locked packages, pip-audit $PIP_AUDIT_VERSION"
$UV tool run --from "pip-audit==$PIP_AUDIT_VERSION" pip-audit --strict --disable-pip --no-deps \
  --progress-spinner off -r "$req"
