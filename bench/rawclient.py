"""A receive-only participant that costs almost nothing per frame: it counts frames.

To measure how many tally frames a gateway process pushes, the receivers must be cheaper per
frame than the gateway (they share its 2 cores). The `websockets` client parses, assembles and
queues every frame (tens of µs each); this one speaks just enough RFC 6455 over an asyncio
Protocol: the opening handshake, a masked `join`, pongs to the server's pings, and for each
incoming frame a header walk and a look at the payload's first bytes.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from typing import cast
from urllib.parse import urlsplit

import orjson

TALLY_PREFIX = b'{"type":"tally"'
OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x8, 0x9, 0xA


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked frame (clients must mask), FIN set."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + masked


class FrameCounter(asyncio.Protocol):
    def __init__(self, path: str, host: str, nickname: str) -> None:
        self._path = path
        self._host = host
        self._nickname = nickname
        self._buf = bytearray()
        self._upgraded = False
        self.transport: asyncio.Transport | None = None
        self.joined: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.frames = 0  # tally frames
        self.bytes = 0
        self.closed = False
        self.last_frame_at = 0.0
        self.arrivals: list[float] = []  # when each tally frame came (monotonic)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they implement it.
        self.transport = cast(asyncio.Transport, transport)
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write(
            (
                f"GET {self._path} HTTP/1.1\r\nHost: {self._host}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        self.bytes += len(data)
        if not self._upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[:end]).split(b"\r\n", 1)[0]
            del buf[: end + 4]
            if b" 101 " not in status:
                self._fail(f"handshake refused: {status.decode(errors='replace')}")
                return
            self._upgraded = True
            join = orjson.dumps({"type": "join", "nickname": self._nickname})
            assert self.transport is not None
            self.transport.write(client_frame(OP_TEXT, join))
        offset, size = 0, len(buf)
        while size - offset >= 2:
            b0, b1 = buf[offset], buf[offset + 1] & 0x7F
            start = offset + 2
            if b1 == 126:
                if size - offset < 4:
                    break
                b1 = (buf[offset + 2] << 8) | buf[offset + 3]
                start = offset + 4
            elif b1 == 127:
                if size - offset < 10:
                    break
                b1 = int.from_bytes(buf[offset + 2 : offset + 10], "big")
                start = offset + 10
            end = start + b1
            if end > size:
                break
            opcode = b0 & 0x0F
            if opcode == OP_TEXT:
                if buf.startswith(TALLY_PREFIX, start):
                    self.frames += 1
                    self.last_frame_at = time.monotonic()
                    self.arrivals.append(self.last_frame_at)
                elif not self.joined.done():
                    self.joined.set_result(bytes(buf[start:end]))
            elif opcode == OP_PING and self.transport is not None:
                self.transport.write(client_frame(OP_PONG, bytes(buf[start:end])))
            elif opcode == OP_CLOSE:
                self.closed = True
                if self.transport is not None:
                    self.transport.close()
            offset = end
        if offset:
            del buf[:offset]

    def _fail(self, reason: str) -> None:
        if not self.joined.done():
            self.joined.set_exception(ConnectionError(reason))
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.joined.done():
            self.joined.set_exception(ConnectionError(f"closed before joining: {exc!r}"))


class LeanScreen:
    """A Screen-like receiver for the fan-out measurements (frames and open only)."""

    def __init__(self, url: str, nickname: str) -> None:
        parts = urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._path, self._nickname = parts.path, nickname
        self._protocol: FrameCounter | None = None

    @property
    def frames(self) -> int:
        return self._protocol.frames if self._protocol else 0

    @property
    def arrivals(self) -> list[float]:
        return self._protocol.arrivals if self._protocol else []

    @property
    def closed(self) -> bool:
        return self._protocol is None or self._protocol.closed

    async def open(self, timeout: float = 60) -> None:
        loop = asyncio.get_running_loop()
        _, protocol = await asyncio.wait_for(
            loop.create_connection(
                lambda: FrameCounter(self._path, f"{self._host}:{self._port}", self._nickname),
                self._host,
                self._port,
            ),
            timeout,
        )
        self._protocol = protocol
        reply = orjson.loads(await asyncio.wait_for(protocol.joined, timeout))
        if reply.get("type") != "joined":
            await self.close()
            raise RuntimeError(f"join refused: {reply}")

    async def close(self) -> None:
        protocol = self._protocol
        if protocol is not None and protocol.transport is not None and not protocol.closed:
            protocol.transport.write(client_frame(OP_CLOSE, struct.pack("!H", 1000)))
            protocol.transport.close()
