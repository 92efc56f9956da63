"""Sending server frames: one JSON encoding per frame, counted by type."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel
from websockets.asyncio.server import ServerConnection, broadcast

from contracts.frames import ErrorCode, ErrorFrame
from ws_gateway import metrics
from ws_gateway.broadcast import broadcast_text


def error_frame(code: ErrorCode, message: str, retry_after: float | None = None) -> ErrorFrame:
    return ErrorFrame(code=code, message=message, retry_after=retry_after)


def _count(frame: BaseModel, connections: int) -> None:
    kind = str(getattr(frame, "type", "unknown"))
    metrics.FRAMES_OUT.labels(kind).inc(connections)
    if isinstance(frame, ErrorFrame):
        metrics.ERRORS_SENT.labels(frame.code).inc(connections)


async def send(ws: ServerConnection, frame: BaseModel) -> None:
    """Send one frame and wait for the write (raises ConnectionClosed like `ws.send`)."""
    await ws.send(frame.model_dump_json())
    _count(frame, 1)


def push(ws: ServerConnection, frame: BaseModel) -> None:
    """Send without waiting, from code that is not the connection's own task.

    `broadcast()` writes synchronously and silently skips closed connections, which is what a
    reply from the vote batcher needs: the participant may be gone by the time it arrives.
    """
    broadcast([ws], frame.model_dump_json())
    _count(frame, 1)


def fan_out(connections: Iterable[ServerConnection], frame: BaseModel) -> int:
    """Encode once and broadcast to every connection; returns how many it was handed to."""
    targets = list(connections)
    if targets:
        broadcast_text(targets, frame.model_dump_json())  # one serialization for all
        _count(frame, len(targets))
    return len(targets)
