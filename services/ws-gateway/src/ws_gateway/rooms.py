"""Room lookup: room code -> poll, from Redis, else poll-api; plus the process's poll cache.

The in-memory cache is kept fresh by `PollStateChanged` messages while the gateway has
participants of a poll (and therefore a live binding for it); newer `state_version` wins.
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

from contracts.polls import PollStatus, PollView, normalize_room_code
from zephyr_runtime.keys import RedisKeys

log = logging.getLogger(__name__)

MAX_CACHED_POLLS = 10_000


class UnknownPoll(Exception):
    """No poll has this room code."""


class PollUnavailable(Exception):
    """Neither Redis nor poll-api could say which poll this is right now."""


@dataclass(frozen=True)
class PollEntry:
    view: PollView
    state_version: int

    @property
    def is_open(self) -> bool:
        return self.view.status is PollStatus.OPEN

    @property
    def results_hidden(self) -> bool:
        return self.view.hide_results_until_reveal and not self.view.revealed


@dataclass(frozen=True)
class Change:
    previous: PollEntry | None
    current: PollEntry


def parse_state_hash(raw: Mapping[Any, Any]) -> PollEntry | None:
    """The poll state hash written by poll-api; None when absent or unreadable (a cache miss)."""
    view_json = raw.get("view")
    if not view_json:
        return None
    try:
        view = PollView.model_validate_json(view_json)
        # The scalar fields are what the accept script reads: they win over the JSON copy.
        updates: dict[str, object] = {}
        if "status" in raw:
            updates["status"] = PollStatus(raw["status"])
        if "epoch" in raw:
            updates["epoch"] = int(raw["epoch"])
        if "revealed" in raw:
            updates["revealed"] = raw["revealed"].strip().lower() in {"1", "true", "yes"}
        version = int(raw.get("state_version", "0"))
    except (ValueError, ValidationError):
        log.warning("unreadable poll state in redis", extra={"fields": sorted(raw)})
        return None
    return PollEntry(view.model_copy(update=updates), version)


def parse_api_poll(data: object) -> PollEntry:
    """poll-api's `GET /api/polls/{code}`: the PollView fields, `state_version` and more."""
    if not isinstance(data, dict):
        raise ValueError("poll-api answered with something that is not an object")
    view = PollView.model_validate({k: data[k] for k in PollView.model_fields if k in data})
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
        return entry

    async def refresh_from_api(self, code: str, correlation_id: str) -> bool:
        """Make poll-api repopulate the Redis state; True when it did."""
        try:
            await self.fetch_from_api(code, correlation_id)
        except (UnknownPoll, PollUnavailable) as exc:
            log.warning("poll state refresh failed", extra={"room": code, "error": str(exc)})
            return False
        return True
