"""One participant's connection: join, vote and ping frames in, replies out."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from uuid import UUID

from pydantic import BaseModel, ValidationError
from redis.exceptions import RedisError
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from contracts import AuditEvent, ParticipantJoined, utcnow
from contracts.frames import (
    CLIENT_FRAME_ADAPTER,
    ErrorCode,
    ErrorFrame,
    JoinedFrame,
    JoinFrame,
    PingFrame,
    PongFrame,
    TallyView,
    VoteFrame,
)
from contracts.qa import AskFrame, UpvoteFrame
from ws_gateway import metrics
from ws_gateway.audit import SERVICE
from ws_gateway.ballot import STALE_CODES, Ballot, Refused, take_ballot
from ws_gateway.context import GatewayContext
from ws_gateway.fanout import poll_state_frame
from ws_gateway.limits import LocalRate
from ws_gateway.nicknames import Claim, claim_nickname, unclaim_nickname
from ws_gateway.rooms import PollEntry
from ws_gateway.snapshot import take_snapshot
from ws_gateway.tallies import tally_frame
from ws_gateway.tokens import InvalidToken, issue_token, verify_token
from ws_gateway.votes import BatcherClosed, Overloaded, PendingVote
from ws_gateway.wire import error_frame, push, send

log = logging.getLogger(__name__)

RETRY_AFTER = 1.0
_FRAME_TYPES = ("join", "vote", "ping", "ask", "upvote")


def describe_invalid_frame(exc: ValidationError) -> str:
    """A short, user-facing reason for the first problem: no pydantic dump, no input echo."""
    err = exc.errors(include_url=False, include_input=False, include_context=False)[0]
    loc = [str(p) for p in err["loc"]]
    if loc and loc[0] in _FRAME_TYPES:
        loc = loc[1:]
    where = ".".join(loc)
    kind = err["type"]
    if kind == "json_invalid":
        reason = "the frame is not valid JSON"
    elif kind == "union_tag_not_found":
        reason = "the frame needs a 'type' field"
    elif kind == "union_tag_invalid":
        reason = "unknown frame type (expected join, vote, ask, upvote or ping)"
    elif kind in {"model_attributes_type", "model_type", "dict_type"}:
        reason = "the frame must be a JSON object"
    elif kind == "extra_forbidden":
        reason = f"unexpected field '{where}'"
    elif kind == "missing":
        reason = f"missing field '{where}'"
    else:
        reason = f"{where}: {err['msg']}" if where else str(err["msg"])
    return reason[:200]


@dataclass(eq=False)
class Session:
    """The frames of one connection, whose poll was found at connect (`found`)."""

    ctx: GatewayContext
    ws: ServerConnection
    found: PollEntry
    correlation_id: str
    client_ip: str | None
    participant_id: UUID | None = None
    nickname: str | None = None
    _holds_live_binding: bool = field(default=False, init=False)
    _in_flight: int = field(default=0, init=False)  # votes sent, not yet answered
    _vote_rate: LocalRate = field(init=False)

    def __post_init__(self) -> None:
        self._vote_rate = self.ctx.limits.vote_rate()

    @property
    def poll_id(self) -> UUID:
        return self.found.view.id

    @property
    def entry(self) -> PollEntry:
        """The freshest known state of this session's poll."""
        return self.ctx.rooms.get(self.poll_id) or self.found

    async def handle(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            metrics.frames_in("binary").inc()
            await self._error("invalid_frame", "binary frames are not supported; send JSON text")
            return
        try:
            frame = CLIENT_FRAME_ADAPTER.validate_json(message)
        except ValidationError as exc:
            metrics.frames_in("invalid").inc()
            await self._error("invalid_frame", describe_invalid_frame(exc))
            return
        metrics.frames_in(frame.type).inc()
        if isinstance(frame, VoteFrame):
            await self._vote(frame)
        elif isinstance(frame, JoinFrame):
            await self._join(frame)
        elif isinstance(frame, PingFrame):
            await send(self.ws, PongFrame())
        elif isinstance(frame, AskFrame | UpvoteFrame):
            await self._qa(frame)

    async def _qa(self, frame: AskFrame | UpvoteFrame) -> None:
        """An ask or upvote (ws_gateway.qa); an error reply goes through `_error` (audited)."""
        reply = await self.ctx.qa.handle(
            frame, self.participant_id, self.entry, self.correlation_id
        )
        if isinstance(reply, ErrorFrame):
            await self._error(reply.code, reply.message, reply.retry_after)
        else:
            await send(self.ws, reply)

    async def close(self) -> None:
        """The connection ended: leave the poll's audience (the nickname stays claimed)."""
        if self.participant_id is not None:
            self.ctx.fanout.remove(self.poll_id, self.ws)
        if self._holds_live_binding:
            self._holds_live_binding = False
            await self.ctx.live.release(self.poll_id)

    async def _error(self, code: ErrorCode, message: str, retry_after: float | None = None) -> None:
        # Bad input and limits become security events.
        self.ctx.limits.note_error(
            code,
            message,
            client_ip=self.client_ip,
            correlation_id=self.correlation_id,
            poll_id=self.poll_id,
            participant_id=self.participant_id,
        )
        await send(self.ws, error_frame(code, message, retry_after))

    # ---- vote ----------------------------------------------------------------------------

    async def _vote(self, frame: VoteFrame) -> None:
        try:
            ballot = await self._ballot(frame)
        except RedisError as exc:
            log.warning("vote check failed on redis", extra={"error": repr(exc)})
            ballot = Refused("unavailable", "the vote could not be checked; retry", RETRY_AFTER)
        if isinstance(ballot, Refused):
            metrics.votes_rejected(ballot.code).inc()
            await self._error(ballot.code, ballot.message, ballot.retry_after)
            return
        assert self.participant_id is not None
        # Load shedding first; then the limits per participant and per IP (which count it).
        guard = self.ctx.guard
        refusal = guard.refuse_vote() or self.ctx.limits.check_vote(
            self._vote_rate, client_ip=self.client_ip, participant_id=self.participant_id
        )
        if refusal is not None:
            refused_code, refused_message, refused_after = refusal
            metrics.votes_rejected(refused_code).inc()
            await self._error(refused_code, refused_message, refused_after)
            return
        pending = PendingVote(
            poll_id=self.poll_id,
            room_code=self.entry.view.room_code,
            participant_id=self.participant_id,
            qid=ballot.question.qid,
            question=ballot.question.index,
            answer=ballot.answer,
            named=frame.question is not None,
            client_vote_id=frame.client_vote_id,
            reply=self._vote_reply,
            correlation_id=self.correlation_id,
        )
        try:
            self.ctx.batcher.submit(pending)
        except Overloaded:
            metrics.votes_rejected("overloaded").inc()
            await self._error("overloaded", "too many votes right now; retry", RETRY_AFTER)
            return
        except BatcherClosed:
            metrics.votes_rejected("unavailable").inc()
            await self._error("unavailable", "the gateway is restarting; retry", RETRY_AFTER)
            return
        self._in_flight += 1
        pending.reply = guard.track(pending.reply)  # counted until answered (by the flusher)

    async def _ballot(self, frame: VoteFrame) -> Ballot | Refused:
        """The question and the checked answer, or why not (the accept script decides last)."""
        if self.participant_id is None:
            return Refused("not_joined", "join the poll before voting")
        entry = self.entry
        ballot = take_ballot(entry, frame)
        if isinstance(ballot, Refused) and ballot.code in STALE_CODES:
            # The cached view may lag the host: Redis is what the accept script reads.
            fresher = await self.ctx.rooms.read_fresher(self.poll_id, entry.state_version)
            if fresher is not None:
                ballot = take_ballot(fresher, frame)
        if isinstance(ballot, Refused):
            return ballot
        if self._in_flight >= self.ctx.settings.max_votes_in_flight_per_connection:
            return Refused("rate_limited", "too many votes waiting; slow down", RETRY_AFTER)
        return ballot

    def _vote_reply(self, frame: BaseModel) -> None:
        self._in_flight -= 1
        push(self.ws, frame)

    # ---- join ----------------------------------------------------------------------------

    async def _join(self, frame: JoinFrame) -> None:
        if self.participant_id is not None:
            await self._error("already_joined", "this connection has already joined")
            return
        if self.ctx.draining:
            await self._error("unavailable", "the gateway is restarting; retry", RETRY_AFTER)
            return
        # A dependency's open breaker first; then the joins per IP and per poll.
        refusal = self.ctx.guard.refuse_join() or await self.ctx.limits.check_join(
            client_ip=self.client_ip, poll_id=self.poll_id
        )
        if refusal is not None:
            await self._error(*refusal)
            return
        resumed = frame.resume_token is not None
        try:
            if frame.resume_token is not None:
                try:
                    identity = verify_token(
                        self.ctx.settings.token_secret, frame.resume_token, self.poll_id
                    )
                except InvalidToken:
                    await self._error("invalid_token", "the resume token is not valid here")
                    return
                participant_id, nickname = identity.participant_id, identity.nickname
            else:
                participant_id, nickname = uuid.uuid4(), frame.nickname
            claim = await claim_nickname(
                self.ctx.redis,
                self.ctx.keys,
                self.poll_id,
                nickname,
                participant_id,
                resume=resumed,
            )
        except RedisError as exc:
            log.warning("join failed on redis", extra={"error": repr(exc)})
            await self._error("unavailable", "cannot join right now; retry", RETRY_AFTER)
            return
        if claim is Claim.REBUILDING:
            # Redis lost its data and vote-worker has not written the claims and answers back.
            await self._error("unavailable", "the poll is being restored; retry", RETRY_AFTER)
            return
        if claim is Claim.TAKEN:
            await self._error("nickname_taken", "that nickname is taken in this poll")
            return
        if not await self._announce_join(participant_id, nickname, resumed):
            if not resumed:
                await self._unclaim(nickname, participant_id)
            await self._error("unavailable", "cannot join right now; retry", RETRY_AFTER)
            return
        try:
            await self._enter(participant_id, nickname)
        except ConnectionClosed:
            raise
        except Exception as exc:
            log.warning("join failed", extra={"error": repr(exc)})
            await self.close()
            self.participant_id = None
            await self._error("unavailable", "cannot join right now; retry", RETRY_AFTER)

    async def _unclaim(self, nickname: str, participant_id: UUID) -> None:
        await unclaim_nickname(
            self.ctx.redis, self.ctx.keys, self.poll_id, nickname, participant_id
        )

    async def _announce_join(self, participant_id: UUID, nickname: str, resumed: bool) -> bool:
        """ParticipantJoined must be confirmed; the audit is best effort (ws_gateway.joins)."""
        joined_at = utcnow()
        participant = ParticipantJoined(
            poll_id=self.poll_id,
            participant_id=participant_id,
            nickname=nickname,
            joined_at=joined_at,
            resumed=resumed,
        )
        audit = AuditEvent(
            event_id=uuid.uuid4(),
            kind="participant.joined",
            service=SERVICE,
            occurred_at=joined_at,
            poll_id=self.poll_id,
            participant_id=participant_id,
            correlation_id=self.correlation_id,
            client_ip=self.client_ip,
            data={"nickname": nickname, "resumed": resumed},
        )
        return await self.ctx.joins.announce(participant, audit, self.correlation_id)

    async def _enter(self, participant_id: UUID, nickname: str) -> None:
        """Bind the poll's live updates, then send `joined` with the state as of now."""
        ctx = self.ctx
        await ctx.live.acquire(self.poll_id)
        self._holds_live_binding = True
        # Re-read after binding: a change between the connect and the binding is not lost.
        # Its message may be past already: the screens here hear of it now.
        previous = ctx.rooms.get(self.poll_id)
        try:
            entry = await ctx.rooms.reload(self.poll_id) or self.entry
        except RedisError:
            entry = self.entry
        if previous is not None and entry is not previous:
            await ctx.fanout.announce(previous, entry)
        snap = await take_snapshot(ctx.redis, ctx.keys, ctx.fanout, entry, participant_id)
        token = issue_token(ctx.settings.token_secret, self.poll_id, participant_id, nickname)
        await send(
            self.ws,
            JoinedFrame(
                participant_id=participant_id,
                nickname=nickname,
                resume_token=token,
                poll=entry.view,
                tally=snap.tally,
                my_vote=snap.my_vote,
                current=entry.view.current,
                my_answers=snap.my_answers,
                server_time=utcnow(),
                quiz_result=snap.quiz_result,
                leaderboard=snap.leaderboard,
            ),
        )
        self.participant_id, self.nickname = participant_id, nickname
        ctx.fanout.add(self.poll_id, self.ws, participant_id)
        await self._catch_up(entry, snap.tally)
        seen = snap.leaderboard.version if snap.leaderboard is not None else -1
        await ctx.quiz.catch_up(self.ws, participant_id, self.poll_id, seen)
        await ctx.qa.on_join(self.ws, entry)

    async def _catch_up(self, sent: PollEntry, sent_tally: TallyView | None) -> None:
        """Send what changed while `joined` was being prepared (before we were in the audience)."""
        current = self.entry
        question = current.current
        if question is None:
            return
        if current.state_version > sent.state_version:
            await send(self.ws, poll_state_frame(current.view, question))
        latest = self.ctx.fanout.latest_tally(self.poll_id, question.qid)
        if (
            latest is not None
            and latest.epoch == question.epoch
            and not current.results_hidden(question)
            and (
                sent_tally is None
                or sent_tally.qid != question.qid
                or latest.version > sent_tally.version
            )
        ):
            frame = tally_frame(latest, question.index)
            if frame is not None:
                await send(self.ws, frame)
