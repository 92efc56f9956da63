"""The quiz pages' pure JavaScript helpers under node: the presenter's and the console's
correct answer, leaderboard and podium (poll-api's `static/quiz.js`), and the participant
page's words for its own quiz result (the gateway's `static/app.js`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUIZ_JS = ROOT / "services/poll-api/src/poll_api/static/quiz.js"
APP_JS = ROOT / "services/ws-gateway/src/ws_gateway/static/app.js"
SCRIPT = Path(__file__).with_name("js") / "quiz.test.mjs"


def test_the_quiz_page_helpers_pass_their_node_checks(tmp_path: Path) -> None:
    node = shutil.which("node")
    # make test installs Debian's nodejs when it is missing (infra/scripts/ensure_actionlint.sh).
    assert node is not None, "node not found: run `bash infra/scripts/ensure_actionlint.sh`"
    # quiz.js is an ES module served as .js; node reads a module from an .mjs file.
    module = tmp_path / "quiz.mjs"
    shutil.copyfile(QUIZ_JS, module)
    done = subprocess.run(
        [node, str(SCRIPT), str(module), str(APP_JS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "quiz page helpers ok" in done.stdout
