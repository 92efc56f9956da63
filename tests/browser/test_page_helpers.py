"""The pages' pure JavaScript helpers (aggregates of every kind, countdown, answers), under node."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
APP_JS = ROOT / "services/ws-gateway/src/ws_gateway/static/app.js"
COMMON_JS = ROOT / "services/poll-api/src/poll_api/static/common.js"
SCRIPT = Path(__file__).with_name("js") / "helpers.test.mjs"


def test_the_page_helpers_pass_their_node_checks(tmp_path: Path) -> None:
    node = shutil.which("node")
    # make test installs Debian's nodejs when it is missing (infra/scripts/ensure_actionlint.sh).
    assert node is not None, "node not found: run `bash infra/scripts/ensure_actionlint.sh`"
    # common.js is an ES module served as .js; node reads a module from an .mjs file.
    common = tmp_path / "common.mjs"
    shutil.copyfile(COMMON_JS, common)
    done = subprocess.run(
        [node, str(SCRIPT), str(APP_JS), str(common)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "page helpers ok" in done.stdout
