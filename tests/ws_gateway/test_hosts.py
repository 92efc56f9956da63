"""Host connections in one gateway process (ws_gateway.host_session, ws_gateway.hosts): the
welcome, every question's tally (hidden ones too) but never to a participant, a reset's zero,
`changed` for a word list and the Q&A queue, and the re-check that ends a revoked socket.
poll-api's host check is stood in for by an httpx mock transport."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect

from contracts import PollStateChanged, QaBoardUpdated, QuizScored, TallyUpdated
from contracts.polls import PollStatus, PollView
from contracts.qa import QaBoardItem
from contracts.topology import (
    qa_routing_key,
    quiz_routing_key,
    state_routing_key,
    tally_routing_key,
)
from tests.support.eventually import eventually
from tests.support.isolation import Resources
from tests.ws_gateway.conftest import (
    changed,
    client,
    join,
    live_publisher,
    question,
    recv,
    recv_until,
    request,
    seed_poll,
    send,
    write_tally,
)
from ws_gateway.app import Gateway
from zephyr_runtime.keys import RedisKeys

SINGLE = {"kind": "single", "prompt": "Lunch?", "options": ["Pizza", "Soup", "Salad"]}
WORDS = {"kind": "wordcloud", "prompt": "One word?", "max_entries": 3, "profanity_filter": True}
GOOD = "good-host-token"


def stand_in_poll_api(gateway: Gateway, view: PollView) -> dict[str, bool]:
    """poll-api's host check: 200 for GOOD while `accepting`, else 403."""
    switch = {"accepting": True}

    def answer(req: httpx.Request) -> httpx.Response:
        assert req.url.path == f"/api/polls/{view.room_code}/host-check"
        if switch["accepting"] and req.headers.get("Authorization") == f"Bearer {GOOD}":
            return httpx.Response(200, json={"poll_id": str(view.id), "room_code": view.room_code})
        return httpx.Response(403, json={"detail": "the host token does not match this poll"})

    gateway.context.http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    return switch


@contextlib.asynccontextmanager
async def host(gw: Gateway, code: str, token: str | None = GOOD) -> AsyncIterator[ClientConnection]:
    url = f"ws://127.0.0.1:{gw.port}/ws/{code}/host"
    async with connect(url, compression=None, proxy=None, open_timeout=10) as ws:
        if token is not None:
            await send(ws, {"type": "host", "token": token})
        yield ws


async def welcome(ws: ClientConnection, questions: int) -> list[dict[str, Any]]:
    """host_ready, then a poll_state and a tally per question, (qa,) presence."""
    frames = [await recv(ws)]
    assert frames[0]["type"] == "host_ready", frames
    presence, before = await recv_until(ws, "presence")
    frames += [*before, presence]
    assert [f["type"] for f in before] == ["poll_state"] * questions + ["tally"] * questions
    return frames


async def test_hidden_tallies_reach_the_host_and_never_a_participant(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view, _ = await seed_poll(
        redis_client,
        keys,
        questions=[question(0, SINGLE), question(4, WORDS, index=1)],
        hide_results_until_reveal=True,
    )
    await write_tally(redis_client, keys, view.id, [1, 0, 2], epoch=0, version=3)
    stand_in_poll_api(gateway, view)
    async with (
        host(gateway, view.room_code) as hs,
        client(gateway, view.room_code) as ws,
        live_publisher(resources) as publish,
    ):
        frames = await welcome(hs, 2)
        tallies = {f["qid"]: f for f in frames if f["type"] == "tally"}
        assert tallies[0]["counts"] == [1, 0, 2] and tallies[0]["version"] == 3  # hidden, stored
        assert tallies[4]["total"] == 0  # no answers yet: its zero tally
        assert frames[-1] == {
            "type": "presence",
            "connected": 0,
            "joined": 0,
            "answers": 3,
            "question": 0,
        }
        joined = await join(ws, "Ann")
        assert joined["tally"] is None

        await publish(
            TallyUpdated(poll_id=view.id, qid=0, epoch=0, counts=[2, 0, 2], total=4, version=4),
            tally_routing_key(view.id),
        )
        tally, _ = await recv_until(hs, "tally")
        assert (tally["qid"], tally["counts"], tally["version"]) == (0, [2, 0, 2], 4)
        words = {"kind": "wordcloud", "words": [{"word": "sun", "count": 1}], "distinct": 1}
        await publish(
            TallyUpdated(
                poll_id=view.id,
                qid=4,
                kind="wordcloud",
                epoch=0,
                total=1,
                version=2,
                aggregate={**words, "total": 1},
            ),
            tally_routing_key(view.id),
        )
        cloud, _ = await recv_until(hs, "tally")
        assert (cloud["qid"], cloud["words"]) == (4, [{"word": "sun", "count": 1}])
        signal, _ = await recv_until(hs, "changed")
        assert signal == {"type": "changed", "what": "words", "question": 1, "version": 2}
        presence = await eventually(lambda: _latest_presence(gateway, view))
        assert presence == (1, 1, 4)  # Ann: connected, joined; four answers (hidden from her)

        gateway.context.fanout.flush()
        # The participant saw no tally at all: the next frame it gets is its pong.
        assert (await request(ws, {"type": "ping"}))["type"] == "pong"


async def _latest_presence(gateway: Gateway, view: PollView) -> tuple[int, int, int] | None:
    entry = gateway.context.rooms.get(view.id)
    assert entry is not None
    await gateway.context.hosts.beat()
    frame = await gateway.context.hosts.presence_frame(entry)
    found = (frame.connected, frame.joined, frame.answers)
    return found if found[0] == 1 and found[2] == 4 else None


async def test_a_reset_a_board_change_and_a_score_reach_the_host(
    gateway: Gateway, redis_client: aioredis.Redis, keys: RedisKeys, resources: Resources
) -> None:
    view, _ = await seed_poll(redis_client, keys, questions=[question(0, SINGLE, epoch=1)])
    await write_tally(redis_client, keys, view.id, [0, 1, 0], epoch=1, version=5)
    stand_in_poll_api(gateway, view)
    async with host(gateway, view.room_code) as hs, live_publisher(resources) as publish:
        await welcome(hs, 1)
        reset = changed(view, 0, epoch=2, status=PollStatus.DRAFT)
        await publish(
            PollStateChanged(poll=reset, state_version=2, qid=0), state_routing_key(view.id)
        )
        state, _ = await recv_until(hs, "poll_state")
        assert (state["status"], state["epoch"]) == ("draft", 2)
        zero, _ = await recv_until(hs, "tally")
        assert (zero["counts"], zero["total"], zero["version"]) == ([0, 0, 0], 0, 0)

        item = QaBoardItem(
            id=uuid.uuid4(),
            text="Why?",
            score=2,
            status="approved",
            asked_at=datetime.now(UTC),
            author=uuid.uuid4(),
        )
        board = QaBoardUpdated(poll_id=view.id, version=7, items=[item])
        await publish(board, qa_routing_key(view.id))
        qa, _ = await recv_until(hs, "qa")
        assert [(i["text"], i["score"]) for i in qa["items"]] == [("Why?", 2)]
        assert "author" not in orjson.dumps(qa).decode()
        signal, _ = await recv_until(hs, "changed")
        assert signal == {"type": "changed", "what": "qa", "question": None, "version": 7}

        scored = QuizScored(
            poll_id=view.id, qid=0, epoch=2, correct_options=[1], top=[], participants=0, version=3
        )
        await publish(scored, quiz_routing_key(view.id))
        signal, _ = await recv_until(hs, "changed")
        assert signal == {"type": "changed", "what": "leaderboard", "question": None, "version": 3}


async def test_a_refused_token_and_a_revoked_one_end_the_socket(
    start_gateway: Callable[..., Any], redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    view, _ = await seed_poll(redis_client, keys)
    async with start_gateway(host_recheck_seconds=0.2) as gw:
        switch = stand_in_poll_api(gw, view)
        async with host(gw, view.room_code, token="wrong") as refused:
            error = await recv(refused)
            assert error["code"] == "invalid_token" and "does not match" in error["message"]
            await refused.wait_closed()
            assert refused.close_code == 4403
        async with host(gw, view.room_code) as hs:
            await welcome(hs, 1)
            assert gw.context.fanout.members(view.id) == set()  # never a participant
            assert (await request(hs, {"type": "vote", "option": 0}))["code"] == "invalid_frame"
            switch["accepting"] = False  # the link was revoked
            error, _ = await recv_until(hs, "error")
            assert error["code"] == "invalid_token"
            await hs.wait_closed()
            assert hs.close_code == 4403
        await eventually(lambda: gw.context.hosts.hosts(view.id) == set(), what="host removed")
        await eventually(lambda: not gw.context.live.is_bound(view.id), what="binding released")
