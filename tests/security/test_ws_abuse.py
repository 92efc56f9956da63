"""The gateway under abuse: floods are limited, foreign origins refused, frames cannot name
another participant or poll, and every refusal leaves a security event in audit_log."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.security.conftest import (
    ALLOWED_ORIGIN,
    CONNECTIONS_PER_IP,
    FLOOD_CLOSE_AFTER,
    FRAMES_PER_CONNECTION,
    JOINS_PER_IP,
    VOTES_PER_PARTICIPANT,
)
from tests.security.helpers import Client, create_poll, from_ip, wait_for_event
from tests.support.eventually import eventually
from tests.support.isolation import Resources
from tests.support.procs import Stack
from tests.support.truth import read_truth

pytestmark = pytest.mark.e2e


def ws_url(stack: Stack, room: str, gateway: str = "ws_gateway") -> str:
    return f"ws://127.0.0.1:{stack[gateway].port}/ws/{room}"


@dataclass
class Room:
    poll: dict[str, Any]
    url: str  # the tight gateway's WebSocket URL of the poll


@pytest.fixture
async def room(sec_stack: Stack) -> Room:
    """A new poll, created through poll-api."""
    poll = await create_poll(sec_stack["poll_api"].url)
    return Room(poll, ws_url(sec_stack, poll["room_code"]))


async def test_a_flood_of_votes_and_joins_is_limited_while_a_normal_participant_votes(
    room: Room, sec_resources: Resources
) -> None:
    poll, url = room.poll, room.url
    flood_ip = "198.51.100.66"
    normal = Client(url, "normal", from_ip("203.0.113.10"))
    flooder = Client(url, "flooder", from_ip(flood_ip))
    for person in (normal, flooder):
        await person.connect()
        await person.join()

    async def flood_votes() -> None:
        for i in range(40):  # fire and forget, as fast as the socket takes them
            await flooder.send({"type": "vote", "option": i % 3})

    join_refusals: list[str] = []

    async def flood_joins() -> None:
        for i in range(JOINS_PER_IP + 5):
            extra = Client(url, f"joiner-{i}", from_ip(flood_ip))
            await extra.connect()
            try:
                await extra.join()
            except RuntimeError as exc:
                join_refusals.append(str(exc))
            finally:
                await extra.close()

    normal_replies: list[dict[str, object]] = []

    async def vote_normally() -> None:
        for i in range(VOTES_PER_PARTICIPANT):
            normal_replies.append(await normal.vote(i % 3, client_vote_id=f"normal-{i}"))
            await asyncio.sleep(0.05)

    await asyncio.gather(flood_votes(), flood_joins(), vote_normally())

    # The normal participant was never refused, and its last vote is what is stored.
    assert [r["type"] for r in normal_replies] == ["vote_accepted"] * VOTES_PER_PARTICIPANT
    await eventually(lambda: _replied(flooder, 40), timeout=60, interval=0.2)
    limited = [e for e in flooder.errors if e["code"] == "rate_limited"]
    assert len(flooder.accepted) <= VOTES_PER_PARTICIPANT
    assert len(flooder.accepted) + len(limited) == 40
    assert all(e["retry_after"] > 0 for e in limited)
    # The flooder's IP had one join already; the rest of its budget, then refusals.
    assert len(join_refusals) >= 5
    assert all("rate_limited" in r for r in join_refusals)

    async def stored() -> bool:
        truth = await read_truth(sec_resources.database_url, poll["id"], 3)
        vote = truth.votes.get(str(normal.participant_id))
        return vote is not None and vote["vote_id"] == normal.accepted[-1]["vote_id"]

    await eventually(stored, timeout=60, interval=0.2)
    events = await wait_for_event(
        sec_resources.database_url, "security.rate_limited", client_ip=flood_ip
    )
    assert all(e["service"] == "ws-gateway" for e in events)
    assert any(e["correlation_id"] for e in events)
    await normal.close()
    await flooder.close()


async def _replied(client: Client, count: int) -> bool:
    return len(client.accepted) + len(client.errors) >= count


async def test_a_connection_that_keeps_flooding_frames_is_closed(
    room: Room, sec_resources: Resources
) -> None:
    ip = "198.51.100.77"
    async with connect(room.url, additional_headers=from_ip(ip)) as ws:
        replies: list[str] = []
        with pytest.raises(ConnectionClosed) as closed:
            await _flood_until_closed(ws, FRAMES_PER_CONNECTION + FLOOD_CLOSE_AFTER + 50, replies)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert sum('"pong"' in r for r in replies) == FRAMES_PER_CONNECTION
    assert any('"rate_limited"' in r for r in replies)
    await wait_for_event(
        sec_resources.database_url, "security.rate_limited", client_ip=ip, reason="flood_closed"
    )


async def _flood_until_closed(ws: ClientConnection, frames: int, replies: list[str]) -> None:
    for _ in range(frames):
        await ws.send('{"type": "ping"}')
    while True:
        replies.append(str(await asyncio.wait_for(ws.recv(), 30)))


async def test_a_foreign_origin_is_refused_and_audited(
    room: Room, sec_stack: Stack, sec_resources: Resources
) -> None:
    url = room.url
    evil = "https://evil.example.net"
    with pytest.raises(InvalidStatus) as refused:
        await connect(url, origin=evil, additional_headers=from_ip("192.0.2.13"))  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    # Allowed: the configured origin, the gateway's own origin, poll-api's, and no Origin.
    port = sec_stack["ws_gateway"].port
    for origin in (ALLOWED_ORIGIN, f"http://127.0.0.1:{port}", sec_stack["poll_api"].url, None):
        async with connect(url, origin=origin) as ws:  # type: ignore[arg-type]
            await ws.send('{"type": "ping"}')
            assert "pong" in str(await asyncio.wait_for(ws.recv(), 30))
    events = await wait_for_event(
        sec_resources.database_url, "security.origin_refused", client_ip="192.0.2.13"
    )
    assert events[0]["data"]["origin"] == evil


async def test_connections_per_ip_are_capped(room: Room, sec_resources: Resources) -> None:
    url = room.url
    ip = "198.51.100.88"
    held = [await connect(url, additional_headers=from_ip(ip)) for _ in range(CONNECTIONS_PER_IP)]
    try:
        with pytest.raises(InvalidStatus) as refused:
            await connect(url, additional_headers=from_ip(ip))
        assert refused.value.response.status_code == 429
        assert int(refused.value.response.headers["Retry-After"]) >= 1
        # Another address is not affected.
        async with connect(url, additional_headers=from_ip("198.51.100.89")) as ws:
            await ws.send('{"type": "ping"}')
            assert "pong" in str(await asyncio.wait_for(ws.recv(), 30))
    finally:
        await asyncio.gather(*(ws.close() for ws in held))
    await wait_for_event(
        sec_resources.database_url,
        "security.rate_limited",
        client_ip=ip,
        reason="connections_ip",
    )


async def test_a_frame_cannot_name_another_participant_or_poll(
    sec_stack: Stack, sec_resources: Resources
) -> None:
    """Identity is bound to the connection: extra fields are refused, nothing is stored."""
    api = sec_stack["poll_api"].url
    mine, other = await create_poll(api), await create_poll(api)
    victim = Client(ws_url(sec_stack, other["room_code"]), "victim", from_ip("203.0.113.20"))
    attacker = Client(ws_url(sec_stack, mine["room_code"]), "attacker", from_ip("203.0.113.21"))
    for person in (victim, attacker):
        await person.connect()
        await person.join()
    forged = [
        {"type": "vote", "option": 0, "participant_id": victim.participant_id},
        {"type": "vote", "option": 0, "poll_id": other["id"]},
        {"type": "vote", "option": 0, "room_code": other["room_code"]},
        {"type": "vote", "option": 0, "nickname": "victim"},
        {"type": "join", "nickname": "victim", "participant_id": victim.participant_id},
    ]
    for frame in forged:
        await attacker.send(frame)
    await eventually(lambda: _errors(attacker, len(forged)), timeout=30, interval=0.2)
    assert {e["code"] for e in attacker.errors} == {"invalid_frame"}
    # A resume token of the other poll does not work here either.
    thief = Client(ws_url(sec_stack, mine["room_code"]), "victim", from_ip("203.0.113.21"))
    thief.resume_token = victim.resume_token
    await thief.connect()
    with pytest.raises(RuntimeError, match="invalid_token"):
        await thief.join()
    for poll in (mine, other):
        truth = await read_truth(sec_resources.database_url, poll["id"], 3)
        assert truth.ballots == set()
    await wait_for_event(
        sec_resources.database_url,
        "security.invalid_input",
        client_ip="203.0.113.21",
        reason="invalid_frame",
    )
    for person in (victim, attacker, thief):
        await person.close()


async def _errors(client: Client, count: int) -> bool:
    return len(client.errors) >= count


async def test_the_http_endpoints_of_the_gateway_are_not_affected(sec_stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        resp = await http.get(f"http://127.0.0.1:{sec_stack['ws_gateway'].port}/health/live")
        assert resp.status_code == 200
