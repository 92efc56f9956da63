"""Property-based fuzzing of a real gateway process: thousands of malformed, oversized,
mistyped and out-of-order frames. Each gets a clear error frame (or, when oversized, close code
1009); the process never crashes; nothing is stored; and a well-behaved participant on the same
gateway keeps voting the whole time, every vote accepted and recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json  # stdlib: encodes integers of any size, which the fuzzer sends
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from contracts.frames import MAX_FRAME_BYTES
from tests.security.helpers import create_poll
from tests.support.eventually import eventually
from tests.support.isolation import Resources
from tests.support.participant import Participant
from tests.support.procs import Stack
from tests.support.truth import read_truth

pytestmark = pytest.mark.e2e

EXAMPLES = 102  # x 50 frames = 5,100
FRAMES_PER_EXAMPLE = 50
OPTIONS = 3
BROADCASTS = {"tally", "poll_state"}

# ---- what the fuzzer sends ------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
not_an_int = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.text(max_size=10),
    st.lists(st.integers(), max_size=3),
)
bad_nicknames = st.one_of(
    st.just(""),
    st.just("   "),
    st.text(min_size=41, max_size=100).filter(lambda t: len(t.strip()) > 41),
    st.sampled_from(["<script>alert(1)</script>", "<b>bold</b>", "a\u200bb", "tab\x00", "\u202e"]),
    not_an_int.filter(lambda v: not isinstance(v, str)),
)


@st.composite
def malformed_text(draw: st.DrawFn) -> str:
    """Text that is not a JSON object: broken JSON, or JSON of another shape."""
    return draw(
        st.one_of(
            st.text(max_size=60).map(lambda t: "{" + t),  # never valid: unclosed
            st.text(max_size=60).map(lambda t: t + "}}"),
            json_scalars.map(lambda v: json.dumps(v)),
            st.lists(json_scalars, max_size=4).map(lambda v: json.dumps(v)),
        )
    )


def frame_dict() -> st.SearchStrategy[dict[str, Any]]:
    """Objects that look like frames but are wrong: types, fields, values."""
    return st.one_of(
        st.fixed_dictionaries({}),
        st.fixed_dictionaries(
            {"type": st.text(max_size=12).filter(lambda t: t not in {"join", "vote", "ping"})}
        ),
        st.fixed_dictionaries({"type": not_an_int}),
        st.fixed_dictionaries({"type": st.just("vote"), "option": not_an_int}),
        st.fixed_dictionaries({"type": st.just("vote"), "option": st.integers(max_value=-1)}),
        st.fixed_dictionaries({"type": st.just("vote"), "option": st.integers(min_value=20)}),
        st.fixed_dictionaries(
            # Too long, never past the frame limit: json.dumps escapes a character in <= 12 bytes.
            {
                "type": st.just("vote"),
                "option": st.just(0),
                "client_vote_id": st.text(min_size=65, max_size=200),
            }
        ),
        st.fixed_dictionaries(
            {"type": st.just("vote"), "option": st.just(0), "participant_id": st.uuids().map(str)}
        ),
        st.fixed_dictionaries({"type": st.just("join"), "nickname": bad_nicknames}),
        st.fixed_dictionaries(
            {
                "type": st.just("join"),
                "nickname": st.just("x"),
                "resume_token": not_an_int.filter(lambda v: v is not None),
            }
        ),
        st.fixed_dictionaries({"type": st.just("ping"), "extra": json_scalars}),
        st.dictionaries(st.text(max_size=8), json_scalars, max_size=4).filter(
            lambda d: d.get("type") not in ("join", "vote")  # never a valid join or vote
        ),
    )


@dataclass(frozen=True)
class Sent:
    payload: str | bytes
    kind: str  # "text", "binary", "oversized", "vote_before_join"


fuzz_frames = st.one_of(
    malformed_text().map(lambda t: Sent(t, "text")),
    frame_dict().map(lambda d: Sent(json.dumps(d), "text")),
    st.binary(max_size=64).map(lambda b: Sent(b, "binary")),
    st.integers(min_value=0, max_value=OPTIONS - 1).map(
        lambda o: Sent(json.dumps({"type": "vote", "option": o}), "vote_before_join")
    ),
)
# Each oversized frame costs a new connection (the gateway closes with 1009): one per example.
oversized = st.integers(min_value=MAX_FRAME_BYTES + 1, max_value=3 * MAX_FRAME_BYTES).map(
    lambda n: Sent('{"type": "join", "nickname": "' + "x" * n + '"}', "oversized")
)
example_frames = st.tuples(
    st.lists(fuzz_frames, min_size=FRAMES_PER_EXAMPLE - 1, max_size=FRAMES_PER_EXAMPLE - 1),
    oversized,
).map(lambda parts: [*parts[0], parts[1]])

# ---- the exchange -----------------------------------------------------------------------------


@dataclass
class Tally:
    frames: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    closes: dict[int, int] = field(default_factory=dict)


async def _reply(ws: ClientConnection) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), 30))
        if frame.get("type") not in BROADCASTS:
            return frame


async def exchange(url: str, frames: list[Sent], tally: Tally) -> None:
    ws = await connect(url, open_timeout=30, compression=None, max_size=2**20)
    try:
        for sent in frames:
            tally.frames += 1
            await ws.send(sent.payload)
            if sent.kind == "oversized":
                with pytest.raises(ConnectionClosed) as closed:
                    await _reply(ws)
                code = closed.value.rcvd.code if closed.value.rcvd else 1006
                tally.closes[code] = tally.closes.get(code, 0) + 1
                assert code == 1009, f"oversized frame closed with {code}"
                ws = await connect(url, open_timeout=30, compression=None, max_size=2**20)
                continue
            reply = await _reply(ws)
            # A clear answer for every frame: an error with a code, or a pong for a stray
            # frame that happens to be a valid ping. Never a join, never a vote.
            if reply["type"] == "pong":
                continue
            assert reply["type"] == "error", (sent, reply)
            assert reply["code"] in {"invalid_frame", "not_joined", "invalid_token"}, (sent, reply)
            assert reply["message"]
            if sent.kind == "vote_before_join":
                assert reply["code"] == "not_joined"
            tally.errors[reply["code"]] = tally.errors.get(reply["code"], 0) + 1
    finally:
        await ws.close()


# ---- the well-behaved participant -------------------------------------------------------------


class SteadyVoter(threading.Thread):
    """Votes every 50 ms on its own event loop until stopped; remembers every reply."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.replies: list[dict[str, Any]] = []
        self.participant_id: str | None = None
        self.failure: BaseException | None = None
        self._stop_event = threading.Event()
        self.started_voting = threading.Event()

    def run(self) -> None:
        try:
            asyncio.run(self._vote())
        except BaseException as exc:
            self.failure = exc

    async def _vote(self) -> None:
        me = Participant(self.url, "steady")
        await me.connect()
        await me.join()
        self.participant_id = me.participant_id
        i = 0
        while not self._stop_event.is_set():
            self.replies.append(await me.vote(i % OPTIONS, client_vote_id=f"steady-{i}"))
            self.started_voting.set()
            i += 1
            await asyncio.sleep(0.05)
        await me.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=60)


@pytest.mark.timeout(900)  # ~1 min on an idle machine; generous for a loaded one
def test_fuzzed_frames_get_clear_errors_and_a_good_participant_keeps_voting(
    sec_stack: Stack, sec_resources: Resources
) -> None:
    poll = asyncio.run(create_poll(sec_stack["poll_api"].url))
    gateway = sec_stack["fuzz_gateway"]
    url = f"ws://127.0.0.1:{gateway.port}/ws/{poll['room_code']}"
    steady = SteadyVoter(url)
    steady.start()
    assert steady.started_voting.wait(60), steady.failure
    tally = Tally()
    started = time.monotonic()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        # No shrinking: each step is real network traffic; a failure prints its frames as is.
        phases=(Phase.explicit, Phase.generate),
    )
    @given(example_frames)
    def fuzz(frames: list[Sent]) -> None:
        asyncio.run(exchange(url, frames, tally))
        if tally.frames % 1000 < FRAMES_PER_EXAMPLE:
            print(f"fuzz progress: {tally.frames} frames at {time.monotonic() - started:.1f}s")

    try:
        fuzz()
    finally:
        steady.stop()
    assert steady.failure is None, steady.failure
    assert tally.frames >= 5000, tally
    assert tally.errors.get("invalid_frame", 0) > 1000, tally
    assert gateway.proc is not None and gateway.proc.poll() is None, "the gateway crashed"

    # The steady participant was never refused, and its last vote is the one counted.
    assert len(steady.replies) >= 20
    assert {r["type"] for r in steady.replies} == {"vote_accepted"}
    last = steady.replies[-1]

    async def recorded() -> bool:
        truth = await read_truth(sec_resources.database_url, poll["id"], OPTIONS)
        vote = truth.votes.get(str(steady.participant_id))
        return vote is not None and vote["vote_id"] == last["vote_id"]

    asyncio.run(eventually(recorded, timeout=60, interval=0.2))
    truth = asyncio.run(read_truth(sec_resources.database_url, poll["id"], OPTIONS))
    # Nothing the fuzzer sent was stored: the only votes are the steady participant's.
    assert set(truth.votes) == {str(steady.participant_id)}
    assert truth.ballots == {r["vote_id"] for r in steady.replies}
    assert uuid.UUID(str(steady.participant_id))
    with contextlib.suppress(Exception):
        print(f"fuzz: {tally.frames} frames, errors {tally.errors}, closes {tally.closes}")
