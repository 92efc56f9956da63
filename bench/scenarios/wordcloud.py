"""wordcloud: 10,000 participants send 3 words each within 5 s of a word cloud opening.

The poll has one `wordcloud` question (`max_entries` 3, the profanity filter on, as by
default). Each participant sends 3 entries at a random moment of 5 s, drawn from a vocabulary
of 500 words with Zipf weights (word k: 1/(k+1)), so the top 100 is contested down to its last
places; each word is typed in several spellings ("Lumo", "LUMO", "lumo!", "(lumo)", fullwidth)
that normalise to one key, and a tenth of the participants send a second list later in the
window (latest wins).

The expected final top 100 is computed here from what was accepted: per participant its last
accepted list, counted once per key (`contracts.words.parse_entry`, the server's own
normalisation), ordered by count then key, labelled by the most frequent spelling. Figures:
the time from the last answer sent until every screen shows exactly that top 100, first-answer
to screen latency (each participant's first answer is respondent k in send order: it is on a
screen from its first tally, after the send, whose total is at least k), and CPU ms per
accepted answer of every service and server (bench.cpu), from the opening until every screen
was final (per answer stored). Checks: stored == accepted (ballots), every stored answer is its
participant's latest accepted one, the stored tally equals a recomputation from the stored
answers and the expected top.

An answer refused `unavailable` (its publish was not confirmed in time) may still have been
stored. When the ballots are more than the accepted answers, the screens are waited for on the
top 100 of every answer sent, if that is what was stored, else on the stored tally, and the
checks say so (`stored_not_accepted`, `screens_waited_for`).
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from typing import Any

import httpx
from tests.support.truth import read_questions

from bench.cpu import CpuMeter
from bench.loadgen import LoadGen
from bench.scenarios.burst import screen_latencies
from bench.scenarios.common import merged, merged_errors, specs, wait_stored
from bench.stack import BenchStack, bench_stack
from bench.stats import summarize_ms
from contracts.words import parse_entry

TOP = 100
QUESTION = {"kind": "wordcloud", "prompt": "One word?", "max_entries": 3}


def config(quick: bool) -> dict[str, Any]:
    common = {"entries": 3, "spread_s": 5.0, "vocabulary": 500, "zipf": 1.0, "resend": 0.1}
    if quick:
        return {**common, "participants": 200, "procs": 2, "traced_screens": 20}
    return {**common, "participants": 10_000, "procs": 4, "traced_screens": 100}


def vocabulary(size: int) -> list[list[str]]:
    """`size` made-up words (two or three syllables, none in the profanity list; every tenth
    is two words), each with the spellings a participant might type."""
    syllables = [c + v for c, v in itertools.product("bdfgklmnprstvz", "aeiou")]
    words: dict[str, None] = {}  # in order, each once
    for a, b, c in itertools.product(syllables, repeat=3):
        if len(words) == size:
            break
        n = len(words)
        words.setdefault(f"{a}{b} {c}{a}" if n % 10 == 9 else (a + b if n % 3 else a + b + c))
    fullwidth = {ord(ch): ord(ch) + 0xFEE0 for ch in "abcdefghijklmnopqrstuvwxyz"}
    # Most type the word in lower case; for every fourth word most capitalise it (its label).
    spellings = []
    for n, w in enumerate(words):
        main = w.capitalize() if n % 4 == 0 else w
        variants = [w.capitalize(), w.upper(), f"{w}!", f" ({w}) ", w.translate(fullwidth)]
        spellings.append([main, main, main, *variants])
    return spellings


def latest_answers(answers: list[dict[str, Any]], accepted: bool = True) -> dict[str, list[str]]:
    """Each participant's last accepted list of entries (latest wins); with `accepted` False,
    their last list sent, whatever its reply."""
    latest = {}
    for a in answers:
        for pid, sends in a["answers"].items():
            kept = [words for words, ok in sends if ok or not accepted]
            if kept:
                latest[pid] = kept[-1]
    return latest


def collapse(entries: list[str]) -> list[str]:
    """The spellings of a list, the first of each key kept (what a participant's answer holds)."""
    seen: set[str] = set()
    out = []
    for raw in entries:
        entry = parse_entry(raw)
        if entry.key not in seen:
            seen.add(entry.key)
            out.append(entry.spelling)
    return out


def expected_top(latest: dict[str, list[str]], n: int = TOP) -> list[dict[str, Any]]:
    """The top `n` words as a screen shows them: respondents per key, count descending then key,
    each labelled by its most frequent spelling (ties: the first in code point order)."""
    counts: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    for entries in latest.values():
        for spelling in collapse(entries):
            key = parse_entry(spelling).key
            counts[key] += 1
            spellings.setdefault(key, Counter())[spelling] += 1
    keys = sorted(counts, key=lambda key: (-counts[key], key))[:n]
    return [
        {"word": min(spellings[k], key=lambda s: (-spellings[k][s], s)), "count": counts[k]}
        for k in keys
    ]


async def create_wordcloud(bs: BenchStack) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=bs.api, timeout=30) as http:
        created = await http.post("/api/polls", json={"questions": [QUESTION]})
        created.raise_for_status()
        poll: dict[str, Any] = created.json()
        return poll


async def run(quick: bool) -> dict[str, Any]:
    cfg = config(quick)
    trace_every = max(1, cfg["participants"] // cfg["traced_screens"])
    words = vocabulary(cfg["vocabulary"])
    async with bench_stack("wordcloud") as bs:
        poll = await create_wordcloud(bs)
        url = bs.ws_url(poll["room_code"])
        load = LoadGen(specs(url, cfg["participants"], cfg["procs"], "w", trace_every))
        try:
            joined = await load.start()
            await bs.wait_queues_empty("participants", "audit")
            meter = CpuMeter.of(bs, load)
            cpu_before = meter.sample()
            opened_at = time.monotonic()
            await bs.open_poll(poll)
            answers = await load.command(
                "words_burst",
                {
                    "start_at": time.monotonic(),
                    "spread": cfg["spread_s"],
                    "vocabulary": words,
                    "zipf": cfg["zipf"],
                    "entries": cfg["entries"],
                    "resend_share": cfg["resend"],
                },
            )
            accepted_ids = merged(answers, "accepted_ids")
            stored_at, _ = await wait_stored(bs, poll["id"], len(accepted_ids))
            # An answer refused `unavailable` (its confirm timed out) may be stored all the same:
            # once `votes` holds nothing, ready or unacked, nothing more will be.
            await bs.wait_settled("votes")
            stored_ids = await bs.ballot_ids(poll["id"])
            question = (await read_questions(bs.resources.database_url, poll["id"]))[0]
            latest, latest_sent = latest_answers(answers), latest_answers(answers, False)
            expected, expected_sent = expected_top(latest), expected_top(latest_sent)
            stored_top = (question.tally or {}).get("words")
            target, target_source = expected, "accepted answers"
            if stored_ids != set(accepted_ids):
                target, target_source = expected_sent, "every answer sent"
                if stored_top != expected_sent:
                    target, target_source = stored_top, "the stored tally"
            converged = await load.command("words_converge", {"words": target, "timeout": 90})
            cpu_after, cpu_window = meter.sample(), time.monotonic() - opened_at
        finally:
            await load.stop()
    accepted = set(accepted_ids)
    stored_answers = {pid: list(a.words) for pid, a in question.answers.items()}
    tally = question.tally or {}
    checks: dict[str, Any] = {
        "accepted": len(accepted),
        "stored": len(stored_ids),
        "stored_equals_accepted": stored_ids == accepted,
        "accepted_not_stored": len(accepted - stored_ids),
        "stored_not_accepted": len(stored_ids - accepted),
        "every_stored_answer_is_latest": stored_answers
        == {pid: collapse(entries) for pid, entries in latest.items()},
        "every_stored_answer_is_latest_sent": stored_answers
        == {pid: collapse(entries) for pid, entries in latest_sent.items()},
        "tally_equals_recomputation": question.tally == question.recomputed(),
        "stored_top_equals_expected": stored_top == expected,
        "stored_top_equals_expected_from_every_sent": stored_top == expected_sent,
        "stored_total_equals_respondents": tally.get("total") == len(latest),
        "screens_waited_for": f"the top {TOP} of {target_source}",
    }
    send_times = sorted(merged(answers, "send_times"))
    first_sends = sorted(merged(answers, "first_send_times"))
    traces = merged(converged, "traces")
    to_screen = [x for trace in traces for x in screen_latencies(first_sends, trace)]
    last_sent = send_times[-1] if send_times else opened_at
    final_at = merged(converged, "final_at")
    screens = sum(c["screens"] for c in converged)
    checks["every_answer_counted"] = (
        checks["stored_equals_accepted"]
        and checks["every_stored_answer_is_latest"]
        and len(latest) == joined["joined"]
    )
    checks["every_screen_final"] = len(final_at) == screens
    checks["screens_not_final"] = merged_disagree(converged)
    checks["errors"] = merged_errors(answers)
    checks["unanswered"] = sum(a["unanswered"] for a in answers)
    cpu = meter.per_unit_ms(cpu_before, cpu_after, len(stored_ids))
    figures = {
        "participants_joined": joined["joined"],
        "join_seconds": round(joined["seconds"], 1),
        "answers_sent": len(send_times),
        "answers_accepted": len(accepted),
        "answers_stored": len(stored_ids),
        "respondents": len(latest),
        "resent": len(send_times) - len(first_sends),
        "distinct_words": tally.get("distinct"),
        "top_last_count": expected[-1]["count"] if expected else None,
        "voting_window_s": round(last_sent - send_times[0], 3) if send_times else None,
        "vote_accepted_latency": summarize_ms(merged(answers, "accept_latency")),
        "first_answer_to_screen": summarize_ms(to_screen),
        "traced_screens": len(traces),
        "all_stored_after_last_answer_s": round(stored_at - last_sent, 3),
        "last_screen_final_after_last_answer_s": round(max(final_at) - last_sent, 3)
        if final_at
        else None,
        "cpu_ms_per_answer": cpu,
        "cpu_window_s": round(cpu_window, 1),
    }
    return {"settings": cfg, "figures": figures, "checks": checks}


def merged_disagree(converged: list[dict[str, Any]]) -> dict[str, int]:
    out: Counter[str] = Counter()
    for c in converged:
        out.update(c["disagree"])
    return dict(out.most_common(5))


def headline(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    f, c = result["figures"], result["checks"]
    return [
        ("every answer counted", str(c["every_answer_counted"]), "True"),
        ("every screen shows the final top 100", str(c["every_screen_final"]), "True"),
        (
            "last screen final after last answer s",
            str(f["last_screen_final_after_last_answer_s"]),
            "lower",
        ),
        ("vote-worker CPU ms per answer", str(f["cpu_ms_per_answer"].get("vote_worker")), "lower"),
    ]
