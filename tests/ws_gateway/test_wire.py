"""Sending frames: the one-serialization broadcast sends what websockets.broadcast() would."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from contracts.frames import TallyFrame
from tests.support.eventually import eventually
from ws_gateway.wire import broadcast_text, encode


async def test_every_open_connection_gets_the_frame_and_closed_ones_are_skipped() -> None:
    joined: list[ServerConnection] = []
    done = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        joined.append(ws)
        await done.wait()

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        clients = [await connect(f"ws://127.0.0.1:{port}", compression=None) for _ in range(5)]
        await eventually(lambda: len(joined) == 5, what="five connections")
        await clients[0].close()
        await eventually(lambda: joined[0].protocol.state.name != "OPEN", what="one closed")
        small = json.dumps({"type": "tally", "counts": [1, 2], "total": 3, "version": 7})
        large = json.dumps({"type": "tally", "counts": list(range(20)), "pad": "é" * 300})
        broadcast_text(joined, small)
        broadcast_text(joined, large)
        for client in clients[1:]:
            async with asyncio.timeout(10):
                assert await client.recv() == small
                assert await client.recv() == large
        # The connection keeps working for ordinary sends afterwards.
        await joined[1].send("after")
        async with asyncio.timeout(10):
            assert await clients[1].recv() == "after"
        done.set()
        for client in clients[1:]:
            await client.close()


def test_a_tally_frame_starts_with_its_type_and_carries_only_its_kind_fields() -> None:
    frame = TallyFrame(
        type="tally", question=2, qid=5, kind="rating", total=2, version=9, counts=[1, 1],
        sum=7, mean="3.50",
    )  # fmt: skip
    text = encode(frame)
    assert text.startswith('{"type":"tally",')
    assert json.loads(text) == {
        "type": "tally", "question": 2, "qid": 5, "kind": "rating", "total": 2, "version": 9,
        "counts": [1, 1], "sum": 7, "mean": "3.50",
    }  # fmt: skip
