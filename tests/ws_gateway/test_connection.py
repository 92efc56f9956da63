"""A connection's life: the room lookup at connect, the idle timeout, oversized frames."""

from __future__ import annotations

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from contracts import PollView
from contracts.frames import MAX_FRAME_BYTES
from tests.ws_gateway.conftest import PollApiStub, client, recv, ws_url
from ws_gateway.app import Gateway


async def test_unknown_room_gets_unknown_poll_and_4404(
    start_gateway, poll_api: PollApiStub
) -> None:
    async with start_gateway(poll_api_url=poll_api.url) as gw:
        for code in ("ZZZZZZ", "not-a-code", "ABCDE1"):
            async with connect(ws_url(gw, code), proxy=None) as ws:
                error = await recv(ws)
                assert error["type"] == "error"
                assert error["code"] == "unknown_poll"
                with pytest.raises(ConnectionClosed):
                    await recv(ws)
                assert ws.close_code == 4404
    # Only the well-formed code needed poll-api's word.
    assert poll_api.requests == ["/api/polls/ZZZZZZ"]


async def test_poll_api_unreachable_closes_with_1013(gateway: Gateway) -> None:
    async with connect(ws_url(gateway, "YYYYYY"), proxy=None) as ws:
        error = await recv(ws)
        assert error["code"] == "unavailable"
        assert error["retry_after"] > 0
        with pytest.raises(ConnectionClosed):
            await recv(ws)
        assert ws.close_code == 1013


async def test_idle_connections_are_closed(start_gateway, poll: PollView) -> None:
    async with start_gateway(idle_timeout_seconds=0.3) as gw, client(gw, poll.room_code) as ws:
        with pytest.raises(ConnectionClosed):
            await recv(ws)
        assert ws.close_code == 1000
        assert ws.close_reason == "idle timeout"


async def test_oversized_frames_close_with_1009(gateway: Gateway, poll: PollView) -> None:
    async with client(gateway, poll.room_code) as ws:
        await ws.send('{"type": "join", "nickname": "' + "a" * MAX_FRAME_BYTES + '"}')
        with pytest.raises(ConnectionClosed):
            await recv(ws)
        assert ws.close_code == 1009
