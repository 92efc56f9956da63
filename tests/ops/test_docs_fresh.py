"""The interface documents in docs/ match the code: regenerated in memory and compared."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def test_generated_documents_are_fresh() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "infra" / "scripts" / "gen_docs.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"run `make docs` and commit the result:\n{done.stderr}"


def test_asyncapi_documents_name_each_queue_and_its_contract() -> None:
    worker = json.loads((DOCS / "asyncapi" / "vote-worker.json").read_text())
    assert worker["asyncapi"].startswith("3.")
    payloads = {
        key.removesuffix(":SubscribeMessage"): message["payload"]["$ref"].rsplit("/", 1)[1]
        for key, message in worker["components"]["messages"].items()
        if key.endswith(":SubscribeMessage")
    }
    assert payloads == {
        "votes": "VoteBatch",
        "participants": "ParticipantJoined",
        "vote-worker.poll-events": "PollEvent",
        "qa": "QaActions",
    }
    assert {"TallyUpdated", "AuditBatch", "Vote"} <= set(worker["components"]["schemas"])
    sink = json.loads((DOCS / "asyncapi" / "audit-sink.json").read_text())
    assert sink["components"]["messages"]["audit:SubscribeMessage"]["name"] == (
        "zephyr.audit_batch.v1"
    )


def test_frames_and_openapi_documents_cover_the_public_interface() -> None:
    frames = json.loads((DOCS / "ws-frames.schema.json").read_text())
    client = {ref["$ref"].rsplit("/", 1)[1] for ref in frames["$defs"]["ClientFrame"]["oneOf"]}
    server = {ref["$ref"].rsplit("/", 1)[1] for ref in frames["$defs"]["ServerFrame"]["oneOf"]}
    assert {"JoinFrame", "VoteFrame", "PingFrame"} <= client
    assert {"JoinedFrame", "VoteAcceptedFrame", "TallyFrame", "ErrorFrame", "PongFrame"} <= server
    api = json.loads((DOCS / "openapi.json").read_text())
    for path in ("/api/polls", "/api/polls/{room_code}/close", "/health/ready"):
        assert path in api["paths"], path
