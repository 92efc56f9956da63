"""Zephyr's message contracts: pydantic v2 models of every bus message and WebSocket frame."""

from contracts.audit import AuditBatch, AuditEvent
from contracts.base import Contract, envelope_headers, utcnow
from contracts.live import PollStateChanged, QuizScored, TallyUpdated
from contracts.participants import ParticipantJoined, ParticipantsJoined
from contracts.polls import PollEvent, PollStatus, PollView
from contracts.qa import QaActions, QaBoardUpdated
from contracts.votes import Vote, VoteBatch

BUS_CONTRACTS: tuple[type[Contract], ...] = (
    VoteBatch,
    TallyUpdated,
    PollStateChanged,
    PollEvent,
    ParticipantJoined,
    ParticipantsJoined,
    AuditBatch,
    QuizScored,
    QaActions,
    QaBoardUpdated,
)

__all__ = [
    "BUS_CONTRACTS",
    "AuditBatch",
    "AuditEvent",
    "Contract",
    "ParticipantJoined",
    "ParticipantsJoined",
    "PollEvent",
    "PollStateChanged",
    "PollStatus",
    "PollView",
    "QaActions",
    "QaBoardUpdated",
    "QuizScored",
    "TallyUpdated",
    "Vote",
    "VoteBatch",
    "envelope_headers",
    "utcnow",
]
