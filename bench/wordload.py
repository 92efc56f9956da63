"""The word-cloud commands of a load generator process (`bench.loadgen.Worker`).

`words_burst`: every participant sends `entries` words at a random moment of `spread` s, some
send a second list later in the window (latest wins); each send records what it carried and
whether it was accepted, so the scenario computes the final top words itself.
`words_converge`: wait (bounded) until every screen shows the expected top words.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.loadgen import Worker


async def words_burst(worker: Worker, p: dict[str, Any]) -> dict[str, Any]:
    """`vocabulary`: the spellings of each word, most frequent word first; word k is drawn with
    weight 1/(k+1)^`zipf`, one of its spellings uniformly."""
    rng, screens = worker.rng, worker.screens
    vocabulary: list[list[str]] = p["vocabulary"]
    cum_weights = list(
        itertools.accumulate(1 / (k + 1) ** float(p["zipf"]) for k in range(len(vocabulary)))
    )
    entries, spread = int(p["entries"]), float(p["spread"])
    ranks = range(len(vocabulary))

    def draw() -> list[str]:
        picked = rng.choices(ranks, cum_weights=cum_weights, k=entries)
        return [rng.choice(vocabulary[k]) for k in picked]

    # (offset, screen, words): a first send each; a share send again later in the window.
    plan = []
    for i in range(len(screens)):
        first = rng.uniform(0, spread)
        plan.append((first, i, draw()))
        if rng.random() < float(p["resend_share"]):
            plan.append((rng.uniform(first, spread), i, draw()))
    plan.sort(key=lambda item: item[0])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(s.status != "open" for s in screens):
        await asyncio.sleep(0.01)
    start_at = max(float(p["start_at"]), time.monotonic())
    delay = start_at - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
    sends: list[tuple[int, str, list[str]]] = []  # (screen, client_vote_id, words)
    failed_sends = 0  # the connection was closed: never sent
    send_times: list[float] = []
    first_send_times: list[float] = []
    seen: set[int] = set()
    for offset, i, words in plan:
        delay = start_at + offset - time.monotonic()
        if delay > 0.001:
            await asyncio.sleep(delay)
        now = time.monotonic()
        send_times.append(now)
        if i not in seen:
            seen.add(i)
            first_send_times.append(now)
        closed = screens[i].errors["closed"]
        client_vote_id = await screens[i].vote(0, {"words": words})
        if screens[i].errors["closed"] > closed:
            failed_sends += 1
        else:
            sends.append((i, client_vote_id, words))
    # Wait for every reply (as `_answers` does) before reading which sends were accepted: an
    # accepted send's id has left `sent`; a refused or unanswered one is still there.
    wait_until = time.monotonic() + float(p.get("answer_timeout", 120))
    while time.monotonic() < wait_until and any(
        len(s.sent) > s.errors.total() and not s.closed for s in screens
    ):
        await asyncio.sleep(0.05)
    # participant id -> [(words, accepted)] in send order; a send not accepted was refused (an
    # `error` frame) or is unanswered.
    sent: dict[str, list[tuple[list[str], bool]]] = {}
    refused = failed_sends
    for i, client_vote_id, words in sends:
        screen = screens[i]
        ok = client_vote_id not in screen.sent
        refused += not ok
        sent.setdefault(str(screen.participant_id), []).append((words, ok))
    return {
        "sent": len(send_times),
        "send_times": send_times,
        "first_send_times": first_send_times,
        "answers": sent,
        "not_accepted": refused,
        **await worker._answers(5),
    }


async def words_converge(worker: Worker, p: dict[str, Any]) -> dict[str, Any]:
    """Wait (bounded) until every screen shows `words`; when each first showed them."""
    expected: list[dict[str, Any]] = p["words"]
    screens = worker.screens
    deadline = time.monotonic() + float(p.get("timeout", 60))
    while time.monotonic() < deadline and any(s.words != expected for s in screens):
        await asyncio.sleep(0.05)
    agree = [s for s in screens if s.words == expected]
    wrong: Counter[str] = Counter(
        f"{len(s.words or [])} words, total {s.total}" for s in screens if s.words != expected
    )
    return {
        "screens": len(screens),
        "agree": len(agree),
        "final_at": [s.changed_at for s in agree],
        "disagree": dict(wrong.most_common(5)),
        "traces": [s.trace for s in screens if s.trace is not None],
    }
