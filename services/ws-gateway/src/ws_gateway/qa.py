"""The Q&A board at the gateway: `ask` and `upvote` in, coalesced `qa` frames out (docs/qa.md).

An ask or upvote is checked here (the board is on, the text is plain, the participant's rate,
the item is on the board and not their own), stamped with the participant's next Q&A sequence
number (Redis TIME based, like a vote's: it keeps increasing after a Redis loss), published to
the `qa` queue with a publisher confirm, and only then answered `asked` / `upvoted`.

The board comes from vote-worker's `QaBoardUpdated` messages (`poll.<id>.qa`), which hold only
approved and answered items: a pending or hidden item never reaches a gateway, so it cannot
reach a participant. The latest board per poll (newest version wins) is broadcast at most every
`tally_interval_ms`, like tallies: never one frame per upvote.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import redis.asyncio as aioredis
from pydantic import BaseModel, ValidationError
from redis.exceptions import RedisError
from websockets.asyncio.server import ServerConnection

from contracts import QaActions, QaBoardUpdated, utcnow
from contracts.qa import (
    MAX_QA_ITEMS,
    AskedFrame,
    AskFrame,
    QaAsk,
    QaFrame,
    QaUpvote,
    UpvotedFrame,
    UpvoteFrame,
)
from contracts.topology import QA_QUEUE
from ws_gateway.fanout import Fanout
from ws_gateway.rooms import PollEntry
from ws_gateway.settings import Settings
from ws_gateway.wire import error_frame, fan_out, send
from zephyr_runtime.amqp import ConfirmedPublisher, PublishFailed
from zephyr_runtime.keys import RedisKeys
from zephyr_runtime.ratelimit import Check, RateLimiter
from zephyr_runtime.redis_scripts import RedisScript
from zephyr_runtime.tasks import cancel_and_wait

log = logging.getLogger(__name__)

RETRY_AFTER = 1.0
# KEYS[1] the poll's Q&A seq hash. ARGV participant id, '1' for an ask, the most asks per poll.
# Returns {seq, clock}; {-1, clock} when the poll already has the most asks it takes.
QA_SEQ = RedisScript("""
local now = redis.call('TIME')
local clock = tonumber(now[1]) * 1000000 + tonumber(now[2])
if ARGV[2] == '1' then
  local asks = tonumber(redis.call('HGET', KEYS[1], 'asks') or '0')
  if asks >= tonumber(ARGV[3]) then return {-1, clock} end
  redis.call('HSET', KEYS[1], 'asks', asks + 1)
end
local seq = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') + 1
if clock > seq then seq = clock end
redis.call('HSET', KEYS[1], ARGV[1], string.format('%d', seq))
return {seq, clock}
""")


@dataclass(frozen=True)
class QaSettings:
    enabled: bool
    moderated: bool


class QaUnavailable(Exception):
    """The board's settings or state could not be read; the participant may retry."""


class QaDesk:
    def __init__(
        self,
        settings: Settings,
        redis: aioredis.Redis,
        keys: RedisKeys,
        fanout: Fanout,
        publisher: ConfirmedPublisher,
        limiter: RateLimiter,
        http: httpx.AsyncClient,
    ) -> None:
        self._s = settings
        self._redis, self._keys = redis, keys
        self._fanout, self._publisher, self._limiter, self._http = fanout, publisher, limiter, http
        self._settings: dict[UUID, QaSettings] = {}  # fixed at creation: cached for good
        self._boards: dict[UUID, QaBoardUpdated] = {}
        self._changed: set[UUID] = set()
        self._task: asyncio.Task[None] | None = None
        self._board_watchers: list[Callable[[QaBoardUpdated], None]] = []
        fanout.when_empty(self._forget)

    # ---- the board ---------------------------------------------------------------------

    def offer(self, board: QaBoardUpdated) -> bool:
        """Keep `board` if it is the newest seen for its poll; True when kept."""
        for watch in self._board_watchers:
            watch(board)  # host connections: a board with a new version tells of any change
        current = self._boards.get(board.poll_id)
        if current is not None and current.version >= board.version:
            return False
        if not self._fanout.members(board.poll_id):
            return False  # nobody here watches it
        self._boards[board.poll_id] = board
        self._changed.add(board.poll_id)
        return True

    def watch_boards(self, watch: Callable[[QaBoardUpdated], None]) -> None:
        """Call `watch(board)` with every board offered, whoever watches it here."""
        self._board_watchers.append(watch)

    async def reload(self, poll_id: UUID) -> None:
        """Offer the board Redis holds (after the live connection was lost a while)."""
        raw = await self._redis.hget(self._keys.qa_board(poll_id), "body")
        if raw is not None:
            try:
                self.offer(QaBoardUpdated.model_validate_json(raw))
            except ValidationError:
                log.warning("unreadable qa board in redis", extra={"poll_id": str(poll_id)})

    def _forget(self, poll_id: UUID) -> None:
        self._boards.pop(poll_id, None)
        self._changed.discard(poll_id)

    async def board(self, poll_id: UUID) -> QaBoardUpdated | None:
        """The latest board known here, else the one vote-worker left in Redis."""
        board = self._boards.get(poll_id)
        if board is not None:
            return board
        raw = await self._redis.hget(self._keys.qa_board(poll_id), "body")
        if raw is None:
            return None
        try:
            loaded = QaBoardUpdated.model_validate_json(raw)
        except ValidationError:
            log.warning("unreadable qa board in redis", extra={"poll_id": str(poll_id)})
            return None
        if self._fanout.members(poll_id):
            current = self._boards.get(poll_id)
            if current is None or current.version < loaded.version:
                self._boards[poll_id] = loaded
        return self._boards.get(poll_id, loaded)

    def remember(self, poll_id: UUID, body: dict[str, Any]) -> None:
        """Keep the Q&A settings of a poll-api answer read for another reason (a room lookup)."""
        self._settings[poll_id] = QaSettings(
            bool(body.get("qa_enabled")), bool(body.get("qa_moderated"))
        )

    async def settings_of(self, entry: PollEntry) -> QaSettings:
        """`settings.qa_enabled` / `qa_moderated` of the poll, from poll-api once per poll."""
        poll_id = entry.view.id
        known = self._settings.get(poll_id)
        if known is not None:
            return known
        url = f"{self._s.poll_api_url}/api/polls/{entry.view.room_code}"
        try:
            resp = await self._http.get(url)
            body = resp.json() if resp.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as exc:
            raise QaUnavailable(type(exc).__name__) from exc
        if not isinstance(body, dict):
            raise QaUnavailable("poll-api did not answer the poll")
        found = QaSettings(bool(body.get("qa_enabled")), bool(body.get("qa_moderated")))
        self._settings[poll_id] = found
        return found

    async def on_join(self, ws: ServerConnection, entry: PollEntry) -> None:
        """After `joined`: the board as it is now, if the poll has one (best effort)."""
        try:
            if not (await self.settings_of(entry)).enabled:
                return
            board = await self.board(entry.view.id)
        except (QaUnavailable, RedisError) as exc:
            log.warning("qa board not sent at join", extra={"error": repr(exc)})
            return
        await send(ws, board.frame() if board is not None else QaFrame(version=0))

    # ---- the coalescing flusher --------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="qa-flusher")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._s.tally_interval_ms / 1000)
            try:
                self.flush()
            except Exception:
                log.exception("qa flush failed")

    def flush(self) -> None:
        """Broadcast the latest board of each poll that changed since the last flush."""
        changed, self._changed = self._changed, set()
        for poll_id in changed:
            board = self._boards.get(poll_id)
            if board is not None:
                self._fanout.spend(fan_out(self._fanout.members(poll_id), board.frame()))

    # ---- asks and upvotes --------------------------------------------------------------

    async def handle(
        self,
        frame: AskFrame | UpvoteFrame,
        participant_id: UUID | None,
        entry: PollEntry,
        correlation_id: str,
    ) -> BaseModel:
        """The reply to an ask or upvote: `asked` / `upvoted` after the confirm, or an error."""
        if participant_id is None:
            return error_frame("not_joined", "join the poll before asking or upvoting")
        try:
            qa = await self.settings_of(entry)
            if not qa.enabled:
                return error_frame("qa_disabled", "this poll has no Q&A board")
            if isinstance(frame, AskFrame):
                return await self._ask(frame, participant_id, entry, qa, correlation_id)
            return await self._upvote(frame, participant_id, entry, correlation_id)
        except (QaUnavailable, RedisError) as exc:
            log.warning("qa action failed", extra={"error": repr(exc)})
            return error_frame("unavailable", "the board is unavailable; retry", RETRY_AFTER)

    async def _limited(self, scope: str, participant_id: UUID) -> BaseModel | None:
        if not self._s.rate_limit_enabled:
            return None
        decision = await self._limiter.check(
            [Check(scope, str(participant_id), self._s.rule(scope))]
        )
        if decision.allowed:
            return None
        wait = max(decision.retry_after_seconds, 0.001)
        return error_frame("rate_limited", f"too many {scope.split('_')[1]}s; retry later", wait)

    async def _seq(self, poll_id: UUID, participant_id: UUID, ask: bool) -> int:
        reply = await QA_SEQ.run(
            self._redis,
            [self._keys.qa_seq(poll_id)],
            [str(participant_id), "1" if ask else "0", MAX_QA_ITEMS],
        )
        return int(reply[0])

    async def _ask(
        self,
        frame: AskFrame,
        participant_id: UUID,
        entry: PollEntry,
        qa: QaSettings,
        correlation_id: str,
    ) -> BaseModel:
        if (refused := await self._limited("qa_ask", participant_id)) is not None:
            return refused
        poll_id = entry.view.id
        seq = await self._seq(poll_id, participant_id, ask=True)
        if seq < 0:
            return error_frame("rate_limited", f"the board takes at most {MAX_QA_ITEMS} questions")
        item_id = (
            uuid.uuid5(participant_id, f"ask:{frame.client_ask_id}")
            if frame.client_ask_id
            else uuid.uuid4()
        )
        action = QaAsk(
            action_id=item_id,
            poll_id=poll_id,
            item_id=item_id,
            participant_id=participant_id,
            text=frame.text,
            seq=seq,
            occurred_at=utcnow(),
        )
        if not await self._publish(action, correlation_id):
            return error_frame("unavailable", "the question could not be sent; retry", RETRY_AFTER)
        status = "pending" if qa.moderated else "approved"
        return AskedFrame(item=item_id, status=status, client_ask_id=frame.client_ask_id)

    async def _upvote(
        self, frame: UpvoteFrame, participant_id: UUID, entry: PollEntry, correlation_id: str
    ) -> BaseModel:
        poll_id = entry.view.id
        board = await self.board(poll_id)
        item = next((i for i in board.items if i.id == frame.item), None) if board else None
        if item is None:
            return error_frame("unknown_item", "there is no such question on the board")
        if item.author == participant_id:
            return error_frame("own_item", "you cannot upvote your own question")
        if (refused := await self._limited("qa_upvote", participant_id)) is not None:
            return refused
        action = QaUpvote(
            action_id=uuid.uuid4(),
            poll_id=poll_id,
            item_id=item.id,
            participant_id=participant_id,
            up=frame.up,
            seq=await self._seq(poll_id, participant_id, ask=False),
            occurred_at=utcnow(),
        )
        if not await self._publish(action, correlation_id):
            return error_frame("unavailable", "the upvote could not be sent; retry", RETRY_AFTER)
        return UpvotedFrame(item=item.id, up=frame.up)

    async def _publish(self, action: QaAsk | QaUpvote, correlation_id: str) -> bool:
        try:
            await self._publisher.publish(
                QaActions(actions=[action]),
                exchange="",
                routing_key=QA_QUEUE,
                correlation_id=correlation_id,
                message_id=str(action.action_id),
            )
        except PublishFailed as exc:
            log.warning("qa action not confirmed", extra={"error": str(exc)})
            return False
        return True
