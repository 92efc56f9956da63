"""The host's live connection across two gateway processes: presence equals the truth, a
SIGKILLed gateway's participants drop out, strangers are refused, a host socket cannot vote,
and a hidden question's tally reaches the host but no participant."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import isolation
from tests.support.eventually import eventually
from tests.support.host import OPTIONS, bearer
from tests.support.host_socket import HostSocket
from tests.support.isolation import Resources
from tests.support.participant import Participant
from tests.support.procs import Stack, supervised

pytestmark = pytest.mark.e2e

FAST_PRESENCE = {
    "WS_GATEWAY_PRESENCE_INTERVAL_MS": "300",
    "WS_GATEWAY_PRESENCE_TTL_SECONDS": "1.5",
    "WS_GATEWAY_HOST_AUTH_TIMEOUT_SECONDS": "1",
    "WS_GATEWAY_HOST_RECHECK_SECONDS": "1",
}


@pytest.fixture(scope="module")
def resources() -> Iterator[Resources]:
    with isolation.provisioned("e2e-host") as res:
        yield res


@pytest.fixture(scope="module")
def stack(resources: Resources, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log_dir: Path = tmp_path_factory.mktemp("e2e-host-logs")
    with supervised({**resources.env(), **FAST_PRESENCE}, log_dir) as running:
        yield running.start_all(gateways=2)


def ws_base(stack: Stack, gateway: str) -> str:
    return f"ws://127.0.0.1:{stack[gateway].port}/ws"


async def create_poll(api: str, *, hidden: bool) -> dict[str, Any]:
    body = {
        "questions": [{"kind": "single", "prompt": "Best colour?", "options": list(OPTIONS)}],
        "settings": {"hide_results_until_reveal": hidden},
    }
    async with httpx.AsyncClient(base_url=api, timeout=10) as http:
        created = await http.post("/api/polls", json=body)
        assert created.status_code == 201, created.text
        poll: dict[str, Any] = created.json()
        opened = await http.post(
            f"/api/polls/{poll['room_code']}/open", headers=bearer(poll["host_token"])
        )
        assert opened.status_code == 200, opened.text
    return poll


async def host_socket(stack: Stack, gateway: str, room: str, token: str | None) -> HostSocket:
    host = HostSocket(f"{ws_base(stack, gateway)}/{room}/host")
    await host.open(token)
    return host


async def test_strangers_and_silence_are_refused(stack: Stack) -> None:
    poll = await create_poll(stack["poll_api"].url, hidden=False)
    other = await create_poll(stack["poll_api"].url, hidden=False)
    room = poll["room_code"]

    wrong = await host_socket(stack, "ws_gateway", room, "not-a-host-token")
    assert await wrong.wait_closed() == 4403
    assert [e["code"] for e in wrong.errors] == ["invalid_token"]
    assert not wrong.of_type("host_ready") and not wrong.of_type("tally")

    # Another poll's host token does not open this one.
    foreign = await host_socket(stack, "ws_gateway1", room, other["host_token"])
    assert await foreign.wait_closed() == 4403
    assert not foreign.of_type("host_ready")

    silent = await host_socket(stack, "ws_gateway", room, None)
    assert await silent.wait_closed() == 4401
    assert "within" in silent.errors[0]["message"]

    garbled = HostSocket(f"{ws_base(stack, 'ws_gateway')}/{room}/host")
    await garbled.open(None)
    await garbled.send({"type": "join", "nickname": "sneaky"})
    assert await garbled.wait_closed() == 4401
    assert garbled.errors[0]["code"] == "invalid_frame"


async def test_a_host_socket_cannot_vote_or_join(stack: Stack) -> None:
    poll = await create_poll(stack["poll_api"].url, hidden=False)
    room = poll["room_code"]
    host = await host_socket(stack, "ws_gateway", room, poll["host_token"])
    await eventually(lambda: host.of_type("host_ready"), what="host_ready")
    await host.send({"type": "vote", "option": 1})
    await host.send({"type": "join", "nickname": "host"})
    await eventually(lambda: len(host.errors) == 2, what="both refused")
    assert {e["code"] for e in host.errors} == {"invalid_frame"}
    assert host.connected

    # A participant's vote is the only one counted, and the host is no participant.
    voter = Participant(f"{ws_base(stack, 'ws_gateway')}/{room}", "voter")
    await voter.connect()
    await voter.join()
    assert (await voter.vote(2))["type"] == "vote_accepted"
    tally = await eventually(lambda: host.tallies.get(0, {}).get("total") == 1 and host.tallies[0])
    assert tally["counts"] == [0, 0, 1, 0]
    presence = await eventually(
        lambda: host.presence if host.presence and host.presence["answers"] == 1 else None
    )
    assert (presence["connected"], presence["joined"]) == (1, 1)
    async with httpx.AsyncClient(base_url=stack["poll_api"].url, timeout=10) as http:
        results = await http.get(f"/api/polls/{room}/results", headers=bearer(poll["host_token"]))
    assert results.json()["questions"][0]["total"] == 1
    await voter.close()
    await host.close()


async def test_a_revoked_host_link_loses_its_socket(stack: Stack) -> None:
    poll = await create_poll(stack["poll_api"].url, hidden=False)
    room = poll["room_code"]
    async with httpx.AsyncClient(base_url=stack["poll_api"].url, timeout=10) as http:
        made = await http.post(
            f"/api/polls/{room}/host-links",
            json={"label": "phone"},
            headers=bearer(poll["host_token"]),
        )
        assert made.status_code == 201, made.text
        link = made.json()
        host = await host_socket(stack, "ws_gateway1", room, link["key"])
        await eventually(lambda: host.of_type("host_ready"), what="the link opens the socket")
        revoked = await http.delete(
            f"/api/polls/{room}/host-links/{link['id']}", headers=bearer(poll["host_token"])
        )
        assert revoked.status_code == 204
    assert await host.wait_closed() == 4403
    assert host.errors[-1]["code"] == "invalid_token"


async def test_presence_across_two_gateways_then_one_is_killed(stack: Stack) -> None:
    poll = await create_poll(stack["poll_api"].url, hidden=True)
    room = poll["room_code"]
    host = await host_socket(stack, "ws_gateway", room, poll["host_token"])
    await eventually(lambda: host.of_type("host_ready"), what="host_ready")
    # Three participants on the first gateway, four on the second.
    people = [
        Participant(f"{ws_base(stack, 'ws_gateway' if i < 3 else 'ws_gateway1')}/{room}", f"p{i}")
        for i in range(7)
    ]
    await asyncio.gather(*(p.connect() for p in people))
    await asyncio.gather(*(p.join() for p in people))

    def presence_is(connected: int, joined: int, answers: int) -> dict[str, Any] | None:
        seen = host.presence
        if seen is None:
            return None
        return (
            seen
            if (seen["connected"], seen["joined"], seen["answers"])
            == (
                connected,
                joined,
                answers,
            )
            else None
        )

    await eventually(lambda: presence_is(7, 7, 0), what="seven connected and joined")
    replies = await asyncio.gather(*(p.vote(i % 4) for i, p in enumerate(people[:5])))
    assert all(r["type"] == "vote_accepted" for r in replies), replies

    # The hidden question's tally reaches the host, not one participant.
    tally = await eventually(lambda: host.tallies.get(0, {}).get("total") == 5 and host.tallies[0])
    assert tally["counts"] == [2, 1, 1, 1]
    await eventually(lambda: presence_is(7, 7, 5), what="five answers")
    for p in people:
        assert p.tally_frames == 0, p.frames
        assert p.joined is not None and not p.joined.get("tally")

    # The second gateway dies without a word: its four drop out, the seven joined stay.
    stack["ws_gateway1"].kill()
    del stack.services["ws_gateway1"]  # killed on purpose: not part of the clean stop
    await eventually(lambda: presence_is(3, 7, 5), timeout=20, what="survivors only")
    assert host.connected
    for p in people[:3]:
        await p.close()
    await eventually(lambda: presence_is(0, 7, 5), what="all left")
    await host.close()
