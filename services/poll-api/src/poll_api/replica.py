"""The read replica's health and lag, checked by a background loop (docs/reliability.md).

Each check reads the primary's WAL position first, then on the replica `pg_is_in_recovery()`,
its replay position and `now() - pg_last_xact_replay_timestamp()`. The lag is an upper bound on
how old a commit missing from the replica can be, the smaller of two bounds:

- the time since the last replayed commit (grows on an idle primary although nothing is missing);
- the time since the replica was last seen caught up: replay position at or past the primary's
  position read just before (0 when it is caught up now).

So a caught-up replica of an idle primary has lag 0, and a paused or cut-off replica's lag grows
with the clock. Past `read_replica_max_lag_seconds`, or when a check fails or times out, reads go
to the primary; one log line at each switch, the gauges at each check.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import asyncpg

from poll_api.background import BackgroundLoop
from poll_api.metrics import READ_REPLICA_FALLBACK, READ_REPLICA_LAG

log = logging.getLogger(__name__)

_PRIMARY_LSN = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint"
_REPLICA_STATE = """
SELECT pg_is_in_recovery() AS standby,
       pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint AS replayed,
       EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8 AS since_replay
"""


@dataclass
class Probe:
    """One asyncpg connection of the monitor's own, opened again after any failure."""

    dsn: str
    timeout: float
    application_name: str
    conn: asyncpg.Connection | None = None

    async def row(self, query: str) -> asyncpg.Record:
        try:
            if self.conn is None or self.conn.is_closed():
                self.conn = await asyncpg.connect(
                    self.dsn,
                    timeout=self.timeout,
                    command_timeout=self.timeout,
                    server_settings={"application_name": self.application_name},
                )
            found = await self.conn.fetchrow(query, timeout=self.timeout)
        except BaseException:
            self.close()
            raise
        assert found is not None
        return found

    def close(self) -> None:
        if self.conn is not None:
            self.conn.terminate()  # never waits on a dead server
            self.conn = None


@dataclass
class ReplicaHealth:
    usable: bool = False  # until the first check says otherwise, reads go to the primary
    reason: str = "starting"  # why not usable
    lag_seconds: float | None = None


@dataclass(kw_only=True, eq=False)
class ReplicaMonitor(BackgroundLoop):
    task_name = "read-replica-monitor"
    primary_dsn: str
    replica_dsn: str
    max_lag_seconds: float
    interval_seconds: float
    timeout_seconds: float
    health: ReplicaHealth = field(default_factory=ReplicaHealth, init=False)
    _primary: Probe = field(init=False)
    _replica: Probe = field(init=False)
    _caught_up_at: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        name = "poll-api-replica-monitor"
        self._primary = Probe(self.primary_dsn, self.timeout_seconds, name)
        self._replica = Probe(self.replica_dsn, self.timeout_seconds, name)
        READ_REPLICA_FALLBACK.set(1)

    async def step(self) -> None:
        try:
            await self.check()
        except Exception as exc:  # never let the loop die: the primary answers meanwhile
            log.exception("read replica check failed")
            self.mark_down(exc)
        await self.pause(self.interval_seconds)

    async def stop(self, timeout: float = 5.0) -> None:
        await super().stop(timeout)
        self._primary.close()
        self._replica.close()

    async def check(self) -> ReplicaHealth:
        sampled_at = time.monotonic()
        try:
            primary_lsn: int | None = int((await self._primary.row(_PRIMARY_LSN))[0])
        except Exception:  # the primary's own trouble shows elsewhere; lag from the replica
            primary_lsn = None
        try:
            state = await self._replica.row(_REPLICA_STATE)
        except Exception as exc:
            self.mark_down(exc)
            return self.health
        if not state["standby"]:
            self._set(False, "not_a_replica", None, "the read database is not in recovery")
            return self.health
        replayed, since_replay = state["replayed"], state["since_replay"]
        now = time.monotonic()
        if primary_lsn is not None and replayed is not None and int(replayed) >= primary_lsn:
            self._caught_up_at = sampled_at
        bounds = [max(0.0, float(since_replay))] if since_replay is not None else []
        if self._caught_up_at is not None:
            bounds.append(0.0 if self._caught_up_at == sampled_at else now - self._caught_up_at)
        lag = min(bounds) if bounds else math.inf
        usable = lag <= self.max_lag_seconds
        self._set(usable, "" if usable else "replica_lagging", lag, "")
        return self.health

    def mark_down(self, exc: BaseException) -> None:
        """The replica failed a check or a read: reads go to the primary until a check passes.
        (A failed check has closed its connection already; a read's failure leaves it to the
        next check, which may be using it right now.)"""
        self._set(False, "replica_down", None, f"{type(exc).__name__}: {exc}"[:300])

    def _set(self, usable: bool, reason: str, lag: float | None, detail: str) -> None:
        before = self.health
        if lag is not None and math.isfinite(lag):
            READ_REPLICA_LAG.set(lag)
        READ_REPLICA_FALLBACK.set(0 if usable else 1)
        self.health = ReplicaHealth(usable, reason, lag)
        extra = {"lag_seconds": lag if lag is None or math.isfinite(lag) else None}
        if usable and not before.usable:
            log.info("read replica in use: reads go to the replica", extra=extra)
        elif not usable and (before.usable or before.reason != reason):
            log.warning(
                "read replica unusable: reads go to the primary",
                extra={**extra, "reason": reason, "detail": detail},
            )
