"""A contract's JSON schema may change only together with its version.

Each bus contract and each WebSocket frame set (participant, host) has a snapshot
`snapshots/<name>.v<version>.json`.
If a model changes and its version does not, this fails; bump the version and write the new
snapshot with `ZEPHYR_UPDATE_SNAPSHOTS=1 pytest tests/contracts`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from contracts import BUS_CONTRACTS
from contracts.frames import (
    CLIENT_FRAME_ADAPTER,
    FRAMES_VERSION,
    SERVER_FRAME_ADAPTER,
)
from contracts.host import HOST_CLIENT_FRAME_ADAPTER, HOST_FRAMES_VERSION, HOST_SERVER_FRAME_ADAPTER

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("ZEPHYR_UPDATE_SNAPSHOTS") == "1"


def _schemas() -> dict[str, dict[str, Any]]:
    found = {f"{c.CONTRACT}.v{c.VERSION}": c.model_json_schema() for c in BUS_CONTRACTS}
    found[f"zephyr.ws_frames.v{FRAMES_VERSION}"] = {
        "client": CLIENT_FRAME_ADAPTER.json_schema(),
        "server": SERVER_FRAME_ADAPTER.json_schema(),
    }
    found[f"zephyr.host_frames.v{HOST_FRAMES_VERSION}"] = {
        "client": HOST_CLIENT_FRAME_ADAPTER.json_schema(),
        "server": HOST_SERVER_FRAME_ADAPTER.json_schema(),
    }
    return found


@pytest.mark.parametrize("name", sorted(_schemas()))
def test_schema_matches_snapshot_of_its_version(name: str) -> None:
    schema = _schemas()[name]
    path = SNAPSHOTS / f"{name}.json"
    rendered = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    if UPDATE:
        path.write_text(rendered)
    assert path.exists(), f"no snapshot for {name}: a new contract or version needs one"
    assert json.loads(path.read_text()) == schema, (
        f"{name} changed without a version bump; bump VERSION and snapshot the new schema"
    )


def test_every_snapshot_belongs_to_a_live_contract() -> None:
    """Old versions stay documented only while a model still carries that version."""
    live = set(_schemas())
    stale = {p.stem for p in SNAPSHOTS.glob("*.json")} - live
    assert not stale, f"snapshots without a model: {sorted(stale)}"


def test_contract_names_are_unique() -> None:
    names = [c.CONTRACT for c in BUS_CONTRACTS]
    assert len(names) == len(set(names))
