"""A host's live connection in tests (`/ws/{room}/host`): authenticates, records what it hears."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed


@dataclass
class HostSocket:
    url: str  # ws://127.0.0.1:PORT/ws/ROOM/host
    frames: list[dict[str, Any]] = field(default_factory=list)
    presence: dict[str, Any] | None = None
    tallies: dict[int, dict[str, Any]] = field(default_factory=dict)  # qid -> latest
    errors: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None
    _ws: ClientConnection | None = None
    _reader: asyncio.Task[None] | None = None

    async def open(self, token: str | None) -> None:
        """Connect and, unless `token` is None, send the `host` frame."""
        self._ws = await connect(self.url, open_timeout=10, max_size=2**20, compression=None)
        self._reader = asyncio.create_task(self._read())
        if token is not None:
            await self.send({"type": "host", "token": token})

    async def send(self, frame: dict[str, Any]) -> None:
        assert self._ws is not None
        await self._ws.send(orjson.dumps(frame).decode())

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("type") == kind]

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for raw in self._ws:
                frame = orjson.loads(raw)
                self.frames.append(frame)
                kind = frame.get("type")
                if kind == "presence":
                    self.presence = frame
                elif kind == "tally":
                    latest = self.tallies.get(frame["qid"])
                    if latest is None or frame["version"] >= latest["version"]:
                        self.tallies[frame["qid"]] = frame
                elif kind == "error":
                    self.errors.append(frame)
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self._ws.close_code

    @property
    def connected(self) -> bool:
        return self._reader is not None and not self._reader.done()

    async def wait_closed(self, timeout: float = 15) -> int | None:
        if self._reader is not None:
            await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        return self.close_code

    async def close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)
