"""The live feed: a poll is bound to the process's live queue while it has participants here."""

from __future__ import annotations

from contracts import PollView
from tests.support.eventually import eventually
from tests.ws_gateway.conftest import client, join, request
from ws_gateway.app import Gateway


async def test_the_poll_is_bound_while_it_has_participants_here(
    gateway: Gateway, poll: PollView
) -> None:
    live = gateway.context.live
    assert not live.is_bound(poll.id)
    async with client(gateway, poll.room_code) as a:
        await join(a, "Ann")
        assert live.is_bound(poll.id)
        async with client(gateway, poll.room_code) as b:
            await join(b, "Bob")
        assert (await request(a, {"type": "ping"}))["type"] == "pong"
        assert live.is_bound(poll.id)
    await eventually(lambda: not live.is_bound(poll.id), what="the poll unbound")
    assert gateway.context.fanout.members(poll.id) == set()
