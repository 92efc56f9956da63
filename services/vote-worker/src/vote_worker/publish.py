"""What vote-worker publishes: tallies and quiz scores to `zephyr.live`, audit batches to
`zephyr.audit`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from contracts import AuditEvent, QaBoardUpdated, QuizScored
from contracts.topology import (
    AUDIT_EXCHANGE,
    LIVE_EXCHANGE,
    audit_routing_key,
    qa_routing_key,
    quiz_routing_key,
    tally_routing_key,
)
from vote_worker.audit import batches
from vote_worker.settings import SERVICE_NAME
from vote_worker.tallies import TallySnapshot
from zephyr_runtime.amqp import ConfirmedPublisher


class Outbound:
    """Confirmed publishing of tallies, quiz scores and audit events; raises PublishFailed on
    failure."""

    def __init__(self, publisher: ConfirmedPublisher) -> None:
        self._publisher = publisher

    async def tallies(self, tallies: Sequence[TallySnapshot], correlation_id: str) -> None:
        # Concurrent publishes share one confirm channel: one round trip for the whole batch.
        await asyncio.gather(
            *(
                self._publisher.publish(
                    tally.message(),
                    exchange=LIVE_EXCHANGE,
                    routing_key=tally_routing_key(tally.poll_id),
                    correlation_id=correlation_id,
                    # No gateway watching this poll is normal: no queue, nothing to return.
                    mandatory=False,
                )
                for tally in tallies
            )
        )

    async def quiz(self, scored: QuizScored, correlation_id: str) -> None:
        """A poll's leaderboard after a recomputation (not mandatory, like a tally)."""
        await self._publisher.publish(
            scored,
            exchange=LIVE_EXCHANGE,
            routing_key=quiz_routing_key(scored.poll_id),
            correlation_id=correlation_id,
            mandatory=False,
        )

    async def qa_boards(self, boards: Sequence[QaBoardUpdated], correlation_id: str) -> None:
        """Each changed poll's visible Q&A board (not mandatory, like a tally)."""
        await asyncio.gather(
            *(
                self._publisher.publish(
                    board,
                    exchange=LIVE_EXCHANGE,
                    routing_key=qa_routing_key(board.poll_id),
                    correlation_id=correlation_id,
                    mandatory=False,
                )
                for board in boards
            )
        )

    async def audit(self, events: Sequence[AuditEvent], correlation_id: str) -> None:
        await asyncio.gather(
            *(
                self._publisher.publish(
                    batch,
                    exchange=AUDIT_EXCHANGE,
                    routing_key=audit_routing_key(SERVICE_NAME),
                    correlation_id=correlation_id,
                )
                for batch in batches(events)
            )
        )
