"""Sending server frames: one JSON encoding per frame, counted by type.

A frame for many connections (`fan_out`) is also serialized as a WebSocket frame only once:
`websockets.broadcast()` builds and serializes a Frame per connection inside each connection's
protocol (tens of µs of Python each, the bulk of a gateway's CPU when it pushes a tally to
10,000 screens). A server frame is unmasked and, with compression off, the same bytes for every
connection, so `broadcast_text` hands those bytes to each transport. A connection that is not
in the plain state (not open, a fragmented send in progress, protocol output pending, an
extension negotiated) goes through `broadcast()` as before.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence

from pydantic import BaseModel
from websockets.asyncio.server import ServerConnection, broadcast
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from contracts.frames import ErrorCode, ErrorFrame, JoinedFrame, TallyFrame, TallyView
from ws_gateway import metrics

log = logging.getLogger(__name__)

Refusal = tuple[ErrorCode, str, float]  # why a frame is refused: (code, message, retry_after)


def error_frame(code: ErrorCode, message: str, retry_after: float | None = None) -> ErrorFrame:
    return ErrorFrame(code=code, message=message, retry_after=retry_after)


def encode(frame: BaseModel) -> str:
    """A frame's JSON. A tally (a `tally` frame, `joined.tally`) has only the fields it was
    built with: its kind's (`ws_gateway.tallies` sets each one explicitly)."""
    if isinstance(frame, TallyFrame):
        # `type` first, as in every other frame: light clients tell a tally by its first bytes.
        body = frame.model_dump_json(exclude_unset=True, exclude={"type"})
        return '{"type":"tally",' + body[1:]
    if isinstance(frame, JoinedFrame) and frame.tally is not None:
        unset = set(TallyView.model_fields) - frame.tally.model_fields_set
        return frame.model_dump_json(exclude={"tally": unset})
    return frame.model_dump_json()


def _count(frame: BaseModel, connections: int) -> None:
    kind = str(getattr(frame, "type", "unknown"))
    metrics.frames_out(kind).inc(connections)
    if isinstance(frame, ErrorFrame):
        metrics.errors_sent(frame.code).inc(connections)


async def send(ws: ServerConnection, frame: BaseModel) -> None:
    """Send one frame and wait for the write (raises ConnectionClosed like `ws.send`)."""
    await ws.send(encode(frame))
    _count(frame, 1)


def push(ws: ServerConnection, frame: BaseModel) -> None:
    """Send without waiting, from code that is not the connection's own task.

    `broadcast()` writes synchronously and silently skips closed connections, which is what a
    reply from the vote batcher needs: the participant may be gone by the time it arrives.
    """
    broadcast([ws], encode(frame))
    _count(frame, 1)


def fan_out(connections: Iterable[ServerConnection], frame: BaseModel) -> int:
    """Encode once and broadcast to every connection; returns how many it was handed to."""
    targets = list(connections)
    if targets:
        broadcast_text(targets, encode(frame))  # one serialization for all
        _count(frame, len(targets))
    return len(targets)


def send_each(frames: Sequence[tuple[ServerConnection, BaseModel]]) -> int:
    """A different frame for each connection (a participant's own `quiz_result`), without
    waiting: each encoded once and written like a broadcast (closed connections are skipped).
    Returns how many were handed to connections."""
    kinds: Counter[str] = Counter()
    for connection, frame in frames:
        broadcast_text([connection], encode(frame))
        kinds[str(getattr(frame, "type", "unknown"))] += 1
    for kind, count in kinds.items():
        metrics.frames_out(kind).inc(count)
    return len(frames)


def broadcast_text(connections: Iterable[ServerConnection], text: str) -> None:
    """Send `text` to every open connection without waiting (like `broadcast()`)."""
    payload = text.encode()
    wire = Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])
    slow: list[ServerConnection] = []
    for connection in connections:
        protocol = connection.protocol
        if protocol.state is not State.OPEN:
            continue
        if (
            connection.send_in_progress is not None
            or protocol.writes
            or protocol.extensions
            or protocol.expect_continuation_frame
        ):
            slow.append(connection)
            continue
        try:
            connection.transport.write(wire)
        except Exception as exc:  # like broadcast(): one broken connection never stops the rest
            log.warning("skipped broadcast: failed to write message: %r", exc)
    if slow:
        broadcast(slow, payload, text=True)
