"""One text frame to many connections, serialized once.

`websockets.broadcast()` builds and serializes a Frame per connection inside each
connection's protocol (tens of µs of Python each, the bulk of a gateway's CPU when it pushes a
tally to 10,000 screens). A server frame is unmasked and, with compression off, the same bytes
for every connection: serialize it once and hand those bytes to each transport. A connection
that is not in the plain state (not open, a fragmented send in progress, protocol output
pending, an extension negotiated) goes through `broadcast()` as before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from websockets.asyncio.server import ServerConnection, broadcast
from websockets.frames import Frame, Opcode
from websockets.protocol import State

log = logging.getLogger(__name__)


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
