"""After Redis lost its data: the gateway's per-participant state, written back from Postgres.

Votes are safe in Postgres, but Redis also holds what the gateway knows of each participant:
the nickname claims (`poll:<id>:nicks`, whose length is the participant count poll-api shows),
each one's own answers (`poll:<id>:myvotes`, sent back in `joined`), the sequence numbers and
the quiz locks (`poll:<id>:seq`). vote-worker owns `participants`, `ballots` and `votes`, so it
rebuilds them; the gateway never opens Postgres.

The sentinel `<prefix>:alive` says Redis holds the rebuilt state. `RedisRebuild.ensure` (at
start and every `reconcile_interval_s`) finds it missing after a FLUSHALL, a restart without
persistence, or on a new Redis, and then, for every poll not expired and not closed longer
than `reconcile_window_hours` ago, writes:
- `nicks`: casefolded nickname -> participant id (the earliest joiner first);
- `myvotes`: `<participant>:<qid>` -> `<epoch>:<answer JSON>`, the counted answer of each
  question's current epoch, in the format the gateway writes;
- `seq`: participant -> their highest stored `seq`, and `lock:<participant>:<qid>` ->
  `<epoch>:<vote id>` for each stored quiz answer of the current epoch;
each field only if absent (HSETNX), so an answer accepted since the loss is never overwritten.
Then it sets the sentinel. Until then the gateway refuses joins, resumes and new quiz locks
with `unavailable` (`ws_gateway.nicknames`, `ws_gateway.votes`); other votes go on.

Replicas take turns with a lock (`<prefix>:rebuilding`: the replica's token, with a TTL renewed
per poll); the sentinel is set only if the lock is still the rebuild's own, so a second loss
during a rebuild (which deletes the lock too) makes the next pass start again.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from contracts.answers import ANSWER_ADAPTER
from vote_worker.metrics import counting_db_errors
from zephyr_runtime.keys import RedisKeys
from zephyr_runtime.redis_scripts import RedisScript, ScriptCall, run_pipelined

log = logging.getLogger(__name__)

# KEYS[1] a hash; ARGV field, value pairs. HSETNX each; returns how many were set.
HSETNX_MANY = RedisScript("""
local n = 0
for i = 1, #ARGV, 2 do
  n = n + redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1])
end
return n
""")

# KEYS[1] the lock; ARGV token, ttl ms. Takes the lock if it is free or already ours: 1, else 0.
ACQUIRE = RedisScript("""
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
""")

# KEYS[1] the lock; ARGV token, ttl ms. Renews the lock if it is still ours: 1, else 0.
RENEW = RedisScript("""
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
""")

# KEYS[1] the lock, KEYS[2] the sentinel; ARGV token, sentinel value. Sets the sentinel and
# drops the lock if the lock is still ours (Redis did not lose its data again meanwhile).
FINISH = RedisScript("""
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[1])
return 1
""")

# KEYS[1] the lock; ARGV token. Drops the lock if it is ours (a failed rebuild).
RELEASE = RedisScript("""
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
""")

_POLLS = """
SELECT p.id
FROM polls p
WHERE p.expires_at > now()
  AND (p.status <> 'closed' OR p.updated_at > now() - make_interval(secs => $1))
  AND (EXISTS (SELECT 1 FROM participants pa WHERE pa.poll_id = p.id)
       OR EXISTS (SELECT 1 FROM votes v WHERE v.poll_id = p.id))
ORDER BY p.updated_at DESC
"""

_PARTICIPANTS = """
SELECT participant_id, nickname FROM participants WHERE poll_id = $1
ORDER BY joined_at, participant_id
"""

# The counted answer of each question's current epoch (an older epoch's was reset away).
_ANSWERS = """
SELECT v.participant_id, v.qid, v.epoch, v.answer::text AS answer, v.vote_id
FROM votes v
JOIN questions q ON q.poll_id = v.poll_id AND q.qid = v.qid AND q.epoch = v.epoch
WHERE v.poll_id = $1
"""

_SEQS = "SELECT participant_id, max(seq) AS seq FROM ballots WHERE poll_id = $1 GROUP BY 1"

Pairs = list[tuple[str, str]]
CONNECTION_RETRIES = 4


@dataclass
class PollFields:
    """What one poll gives back to Redis: field/value pairs per hash."""

    nicknames: Pairs = field(default_factory=list)
    my_votes: Pairs = field(default_factory=list)
    seq: Pairs = field(default_factory=list)  # sequences and quiz locks


@dataclass
class Rebuilt:
    polls: int = 0
    participants: int = 0
    answers: int = 0
    written: int = 0  # fields Redis did not hold yet
    seconds: float = 0.0


def poll_fields(
    participants: Sequence[asyncpg.Record],
    answers: Sequence[asyncpg.Record],
    seqs: Sequence[asyncpg.Record],
) -> PollFields:
    """The Redis fields of one poll from its rows (participants in join order)."""
    out = PollFields()
    claimed: set[str] = set()
    for row in participants:
        nickname = str(row["nickname"]).casefold()
        if nickname not in claimed:  # two rows with one nickname: the earlier joiner keeps it
            claimed.add(nickname)
            out.nicknames.append((nickname, str(row["participant_id"])))
    for row in answers:
        participant, qid, epoch = row["participant_id"], row["qid"], row["epoch"]
        try:
            answer = ANSWER_ADAPTER.validate_json(row["answer"])
        except ValueError:
            log.warning("stored answer of %s/%s not readable: not restored", participant, qid)
            continue
        out.my_votes.append((f"{participant}:{qid}", f"{epoch}:{answer.model_dump_json()}"))
        if answer.kind == "quiz":  # its first answer locks (ws_gateway.votes)
            out.seq.append((f"lock:{participant}:{qid}", f"{epoch}:{row['vote_id']}"))
    out.seq.extend((str(row["participant_id"]), f"{row['seq']:d}") for row in seqs)
    return out


def _chunks(pairs: Pairs, size: int) -> Iterator[list[str]]:
    for start in range(0, len(pairs), size):
        yield [value for pair in pairs[start : start + size] for value in pair]


@dataclass
class RedisRebuild:
    pool: asyncpg.Pool
    redis: aioredis.Redis
    keys: RedisKeys
    window_s: float
    chunk: int = 1000  # field/value pairs per script call
    calls_per_trip: int = 16
    lock_ttl_s: float = 10.0
    last: Rebuilt | None = None
    _token: str = field(default_factory=lambda: uuid.uuid4().hex)  # this replica's, in the lock

    @property
    def _ttl_ms(self) -> int:
        return int(self.lock_ttl_s * 1000)

    async def is_alive(self) -> bool:
        return bool(await self.redis.exists(self.keys.alive()))

    async def ensure(self) -> bool:
        """Rebuild if the sentinel is missing and no other replica is at it; True when this
        call rebuilt and set the sentinel. Every write is idempotent, so a connection error
        (each pooled connection from before a Redis restart fails once) is retried at once, a
        few times."""
        for _ in range(CONNECTION_RETRIES):
            try:
                return await self._ensure()
            except RedisConnectionError as exc:
                log.info("redis connection lost during the rebuild, once more: %r", exc)
        return await self._ensure()

    async def _ensure(self) -> bool:
        if await self.is_alive():
            return False
        lock = self.keys.rebuilding()
        if not await ACQUIRE.run(self.redis, [lock], [self._token, self._ttl_ms]):
            return False  # another replica is rebuilding
        try:
            done = await self._rebuild()
        except BaseException:
            with contextlib.suppress(RedisError):
                await RELEASE.run(self.redis, [lock], [self._token])
            raise
        if not done:
            log.warning("Redis lost its data again during the rebuild: rebuilding again")
        return done

    async def first_pass(self) -> None:
        """At start, before the worker is ready: a failure is logged, the loop tries again."""
        try:
            await self.ensure()
        except Exception as exc:
            log.warning("redis rebuild failed: %s: %s", type(exc).__name__, exc)

    async def _rebuild(self) -> bool:
        started = time.monotonic()
        log.warning("Redis has no rebuild sentinel (lost its data, or new): rebuilding")
        with counting_db_errors():
            async with self.pool.acquire() as conn:
                polls = [row["id"] for row in await conn.fetch(_POLLS, self.window_s)]
        stats = Rebuilt()
        for poll_id in polls:
            fields = await self._read_poll(poll_id)
            stats.polls += 1
            stats.participants += len(fields.nicknames)
            stats.answers += len(fields.my_votes)
            stats.written += await self._write_poll(poll_id, fields)
            if not await RENEW.run(
                self.redis, [self.keys.rebuilding()], [self._token, self._ttl_ms]
            ):
                return False
        stamp = datetime.now(UTC).isoformat()
        finished = await FINISH.run(
            self.redis, [self.keys.rebuilding(), self.keys.alive()], [self._token, stamp]
        )
        if not finished:
            return False
        stats.seconds = time.monotonic() - started
        self.last = stats
        log.warning(
            "Redis rebuilt from Postgres: %d polls, %d participants, %d answers in %.2f s",
            stats.polls,
            stats.participants,
            stats.answers,
            stats.seconds,
            extra={"fields_written": stats.written},
        )
        return True

    async def _read_poll(self, poll_id: UUID) -> PollFields:
        with counting_db_errors():
            async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
                participants = await conn.fetch(_PARTICIPANTS, poll_id)
                answers = await conn.fetch(_ANSWERS, poll_id)
                seqs = await conn.fetch(_SEQS, poll_id)
        return poll_fields(participants, answers, seqs)

    async def _write_poll(self, poll_id: UUID, fields: PollFields) -> int:
        calls: list[ScriptCall] = []
        for key, pairs in (
            (self.keys.nicknames(poll_id), fields.nicknames),
            (self.keys.my_votes(poll_id), fields.my_votes),
            (self.keys.vote_seq(poll_id), fields.seq),
        ):
            calls.extend((HSETNX_MANY, [key], args) for args in _chunks(pairs, self.chunk))
        written = 0
        for start in range(0, len(calls), self.calls_per_trip):
            results = await run_pipelined(self.redis, calls[start : start + self.calls_per_trip])
            written += sum(int(r) for r in results)
        return written
