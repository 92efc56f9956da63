"""Helpers to follow one request or vote through the logs and traces of a Stack."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from tests.support.procs import Stack


def log_lines(stack: Stack) -> list[dict[str, Any]]:
    """Every JSON log line every service of the stack wrote so far."""
    lines: list[dict[str, Any]] = []
    for svc in stack.services.values():
        try:
            text = svc.log_path.read_text(errors="replace")
        except FileNotFoundError:
            continue
        for raw in text.splitlines():
            if raw.startswith("{"):
                try:
                    lines.append(json.loads(raw))
                except json.JSONDecodeError:
                    continue
    return lines


def services_logging(stack: Stack, correlation_id: str) -> set[str]:
    """The services with at least one log line carrying `correlation_id`."""
    return {
        line["service"] for line in log_lines(stack) if line.get("correlation_id") == correlation_id
    }


def spans(traces_dir: Path) -> list[dict[str, Any]]:
    """Every span the stack's processes exported (one JSON-lines file per process)."""
    found: list[dict[str, Any]] = []
    for path in traces_dir.glob("*.jsonl"):
        for raw in path.read_text(errors="replace").splitlines():
            try:
                found.append(json.loads(raw))
            except json.JSONDecodeError:
                continue  # a line being written right now
    return found


def traces(traces_dir: Path) -> dict[str, list[dict[str, Any]]]:
    by_trace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for span in spans(traces_dir):
        by_trace[span["trace_id"]].append(span)
    return by_trace
