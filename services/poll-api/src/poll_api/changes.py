"""One transaction's changes to a poll: each change bumps the state version and becomes the
outbox rows of its event (with the view as it was right after that change)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.polls import ClosedBy, PollEventName, PollView
from poll_api import outbox
from poll_api.lifecycle import close_if_due, mirror_current
from poll_api.models import OutboxMessage, Question
from poll_api.run import PollRun
from poll_api.views import poll_view


@dataclass
class Changes:
    run: PollRun
    now: datetime
    correlation_id: str
    client_ip: str | None
    rows: list[OutboxMessage] = field(default_factory=list)
    events: list[PollEventName] = field(default_factory=list)
    view: PollView | None = None
    deleted: list[Question] = field(default_factory=list)

    def record(
        self, event: PollEventName, qid: int | None = None, closed_by: ClosedBy | None = None
    ) -> None:
        """After a change to the run: bump the version and write its messages."""
        poll = self.run.poll
        mirror_current(poll, self.run.current)
        poll.state_version += 1
        poll.updated_at = self.now
        self.view = poll_view(self.run, self.now)
        self.events.append(event)
        self.rows.extend(
            outbox.poll_change_rows(
                self.view,
                event=event,
                state_version=poll.state_version,
                occurred_at=self.now,
                correlation_id=self.correlation_id,
                client_ip=self.client_ip,
                qid=qid,
                closed_by=closed_by,
            )
        )

    def close_due(self) -> int:
        """Record the timer's close of every question past its `closes_at`; how many."""
        closed = 0
        for question in self.run.questions:
            if close_if_due(question, self.now):
                self.record("closed", question.qid, "timer")
                closed += 1
        return closed

    async def save(self, session: AsyncSession) -> None:
        """Add the changed rows and the outbox messages to the session's transaction."""
        if not self.rows:
            return
        session.add(self.run.poll)
        session.add_all(self.run.questions)
        await outbox.enqueue(session, self.rows)
