"""Room lookup: room code -> poll, from Redis, else poll-api; plus the process's poll cache.

The in-memory cache is kept fresh by `PollStateChanged` messages while the gateway has
participants of a poll (and therefore a live binding for it); newer `state_version` wins. A poll
is a run of questions (`view.questions`, `view.current`); a first-version view without them
reads as the run of its one single-choice question.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import redis.asyncio as aioredis
from pydantic import ValidationError

from contracts.polls import PollStatus, PollView, QuestionState, normalize_room_code
from contracts.questions import STORED, from_shorthand
from zephyr_runtime.keys import RedisKeys

log = logging.getLogger(__name__)

MAX_CACHED_POLLS = 10_000


class UnknownPoll(Exception):
    """No poll has this room code."""


class PollUnavailable(Exception):
    """Neither Redis nor poll-api could say which poll this is right now."""


@dataclass(frozen=True)
class PollEntry:
    """A poll as this gateway knows it: the public view of its run of questions."""

    view: PollView
    state_version: int

    def question_at(self, index: int | None) -> QuestionState | None:
        """The question at `index` (None: the current one), or None when there is none."""
        return self.view.question_at(self.view.current if index is None else index)

    def by_qid(self, qid: int) -> QuestionState | None:
        return self.view.by_qid(qid)

    @property
    def current(self) -> QuestionState | None:
        return self.view.current_question

    def results_hidden(self, question: QuestionState) -> bool:
        """The host has not released this question's results (invariant 6).

        Hidden until revealed when the poll says so, and a quiz's counts while it is open
        (they would tell the correct answer before the close).
        """
        if self.view.hide_results_until_reveal and not question.revealed:
            return True
        return question.kind == "quiz" and question.status is PollStatus.OPEN


@dataclass(frozen=True)
class Change:
    previous: PollEntry | None
    current: PollEntry


def _with_questions(view: PollView) -> PollView:
    """A first-version view (no `questions`) as the run of one single-choice question, qid 0."""
    if view.questions:
        return view
    question = QuestionState(
        qid=0,
        index=0,
        spec=from_shorthand(view.question, view.options),
        status=view.status,
        revealed=view.revealed,
        epoch=view.epoch,
    )
    return view.model_copy(update={"questions": [question], "current": 0})


def _truthy(raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes"}


def _apply_fields(view: PollView, raw: Mapping[Any, Any]) -> PollView:
    """The scalar fields are what the accept script reads: they win over the JSON copy.

    `q<qid>:status` and `q<qid>:epoch` per question; a first-version hash has only `status`,
    `epoch` and `revealed`, which describe the current question.
    """
    current = view.current_question
    first_version = current is not None and f"q{current.qid}:status" not in raw
    questions = []
    for question in view.questions:
        updates: dict[str, object] = {}
        if first_version and question is current:
            if "status" in raw:
                updates["status"] = PollStatus(raw["status"])
            if "epoch" in raw:
                updates["epoch"] = int(raw["epoch"])
            if "revealed" in raw:
                updates["revealed"] = _truthy(raw["revealed"])
        if (status := raw.get(f"q{question.qid}:status")) is not None:
            updates["status"] = PollStatus(status)
        if (epoch := raw.get(f"q{question.qid}:epoch")) is not None:
            updates["epoch"] = int(epoch)
        questions.append(question.model_copy(update=updates) if updates else question)
    view = view.model_copy(update={"questions": questions})
    shown = view.current_question
    if shown is None:
        return view
    # The top-level fields mirror the current question (what a first-version reader sees).
    return view.model_copy(
        update={"status": shown.status, "epoch": shown.epoch, "revealed": shown.revealed}
    )


def make_entry(view: PollView, state_version: int) -> PollEntry:
    """The entry of a view as published or stored (a first-version view gets its question)."""
    return PollEntry(_with_questions(view), state_version)


def parse_state_hash(raw: Mapping[Any, Any]) -> PollEntry | None:
    """The poll state hash written by poll-api; None when absent or unreadable (a cache miss)."""
    view_json = raw.get("view")
    if not view_json:
        return None
    try:
        view = _apply_fields(
            _with_questions(PollView.model_validate_json(view_json, context=STORED)), raw
        )
        version = int(raw.get("state_version", "0"))
    except (ValueError, ValidationError):
        log.warning("unreadable poll state in redis", extra={"fields": sorted(raw)[:20]})
        return None
    return PollEntry(view, version)


def parse_api_poll(data: object) -> PollEntry:
    """poll-api's `GET /api/polls/{code}`: the PollView fields, `state_version` and more.

    Only the fields of the view are read, of the poll and of each question: what else
    poll-api says (counts, results, timestamps) is not the gateway's business.
    """
    if not isinstance(data, dict):
        raise ValueError("poll-api answered with something that is not an object")
    fields = {k: data[k] for k in PollView.model_fields if k in data}
    questions = fields.get("questions")
    if isinstance(questions, list):
        fields["questions"] = [
            {k: q[k] for k in QuestionState.model_fields if k in q} if isinstance(q, dict) else q
            for q in questions
        ]
    view = _with_questions(PollView.model_validate(fields, context=STORED))
    return PollEntry(view, int(data.get("state_version", 0)))


class RoomDirectory:
    def __init__(
        self,
        redis: aioredis.Redis,
        keys: RedisKeys,
        http: httpx.AsyncClient,
        poll_api_url: str,
        is_live: Callable[[UUID], bool] = lambda _poll_id: False,
    ) -> None:
        self.redis = redis
        self.keys = keys
        # Told each poll poll-api answered, with the whole answer (the Q&A desk keeps its
        # settings from it, so a join after a cache miss asks poll-api once).
        self.on_api_poll: list[Callable[[UUID, dict[str, Any]], None]] = []
        self._http = http
        self._poll_api_url = poll_api_url.rstrip("/")
        self._is_live = is_live
        self._polls: dict[UUID, PollEntry] = {}
        self._codes: dict[str, UUID] = {}

    def set_liveness(self, is_live: Callable[[UUID], bool]) -> None:
        """`is_live(poll_id)`: a live binding keeps that poll's cached entry current."""
        self._is_live = is_live

    def get(self, poll_id: UUID) -> PollEntry | None:
        return self._polls.get(poll_id)

    def apply(self, entry: PollEntry) -> Change | None:
        """Store `entry` if it is newer than the cached one; the change, or None if stale."""
        previous = self._polls.get(entry.view.id)
        if previous is not None and entry.state_version <= previous.state_version:
            return None
        if previous is None and len(self._polls) >= MAX_CACHED_POLLS:
            self._prune()
        self._polls[entry.view.id] = entry
        self._codes[entry.view.room_code] = entry.view.id
        return Change(previous, entry)

    def _prune(self) -> None:
        for poll_id in [p for p in self._polls if not self._is_live(p)]:
            self._codes.pop(self._polls.pop(poll_id).view.room_code, None)

    async def lookup(self, raw_code: str, correlation_id: str) -> PollEntry:
        """The poll behind a room code. Raises UnknownPoll or PollUnavailable."""
        code = normalize_room_code(raw_code)
        if code is None:
            raise UnknownPoll(raw_code)
        poll_id = self._codes.get(code)
        if poll_id is not None and self._is_live(poll_id):
            cached = self._polls.get(poll_id)
            if cached is not None:  # a live binding keeps it current: no round trip
                return cached
        try:
            entry = await self._from_redis(code)
        except aioredis.RedisError as exc:
            raise PollUnavailable(f"redis: {type(exc).__name__}") from exc
        if entry is None:
            entry = await self.fetch_from_api(code, correlation_id)
        self.apply(entry)
        return self._polls.get(entry.view.id, entry)

    async def _from_redis(self, code: str) -> PollEntry | None:
        poll_id = await self.redis.get(self.keys.room(code))
        if not poll_id:
            return None
        entry = parse_state_hash(await self.redis.hgetall(self.keys.poll_state(str(poll_id))))
        if entry is None or entry.view.room_code != code:
            return None
        return entry

    async def reload(self, poll_id: UUID) -> PollEntry | None:
        """Re-read the poll's Redis state into the cache; the cached entry afterwards."""
        entry = parse_state_hash(await self.redis.hgetall(self.keys.poll_state(poll_id)))
        if entry is not None:
            self.apply(entry)
        return self._polls.get(poll_id)

    async def read_fresher(self, poll_id: UUID, state_version: int) -> PollEntry | None:
        """Redis's state of the poll if newer than `state_version`, else None.

        For a vote that the cached view refuses: poll-api answers the host once Redis holds the
        change, and the PollStateChanged that updates this cache may still be on its way. Not
        applied to the cache: that message does it, and tells the screens.
        """
        key = self.keys.poll_state(poll_id)
        stored = await self.redis.hget(key, "state_version")
        if stored is None or not str(stored).isdigit() or int(stored) <= state_version:
            return None
        return parse_state_hash(await self.redis.hgetall(key))

    async def fetch_from_api(self, code: str, correlation_id: str) -> PollEntry:
        """Ask poll-api, which reads Postgres and writes the Redis cache back."""
        url = f"{self._poll_api_url}/api/polls/{code}"
        try:
            resp = await self._http.get(url, headers={"X-Request-ID": correlation_id})
        except httpx.HTTPError as exc:
            raise PollUnavailable(f"poll-api: {type(exc).__name__}") from exc
        if resp.status_code == 404:
            raise UnknownPoll(code)
        if resp.status_code != 200:
            raise PollUnavailable(f"poll-api answered {resp.status_code}")
        try:
            entry = parse_api_poll(resp.json())
        except ValueError as exc:  # includes ValidationError and JSON decode errors
            raise PollUnavailable("poll-api answered an unreadable poll") from exc
        self.apply(entry)
        for hook in self.on_api_poll:
            hook(entry.view.id, resp.json())
        return entry

    async def refresh_from_api(self, code: str, correlation_id: str) -> bool:
        """Make poll-api repopulate the Redis state; True when it did."""
        try:
            await self.fetch_from_api(code, correlation_id)
        except (UnknownPoll, PollUnavailable) as exc:
            log.warning("poll state refresh failed", extra={"room": code, "error": str(exc)})
            return False
        return True
