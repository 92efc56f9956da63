"""The word cloud's layout helpers (wordcloud.js) and the participant page's word helpers
(words.js), under node: sizes by count, stable hashes, places that never overlap."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
WORDCLOUD_JS = ROOT / "services/poll-api/src/poll_api/static/wordcloud.js"
WORDS_JS = ROOT / "services/ws-gateway/src/ws_gateway/static/words.js"
SCRIPT = Path(__file__).with_name("js") / "words.test.mjs"


def test_the_word_helpers_pass_their_node_checks(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node is not None, "node not found: run `bash infra/scripts/ensure_actionlint.sh`"
    # wordcloud.js is an ES module served as .js; node reads a module from an .mjs file.
    module = tmp_path / "wordcloud.mjs"
    shutil.copyfile(WORDCLOUD_JS, module)
    done = subprocess.run(
        [node, str(SCRIPT), str(module), str(WORDS_JS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "word helpers ok" in done.stdout
