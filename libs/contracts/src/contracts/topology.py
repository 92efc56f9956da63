"""RabbitMQ names and declarations as data. Every service declares what it uses, idempotently."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

# Exchanges
LIVE_EXCHANGE = "zephyr.live"  # topic: poll.<id>.tally, .state, .quiz, .qa
POLLS_EXCHANGE = "zephyr.polls"  # topic: poll.<event>
AUDIT_EXCHANGE = "zephyr.audit"  # topic: audit.<service>
DEAD_LETTER_EXCHANGE = "zephyr.dlx"  # direct: routing key = original queue name

# Queues (votes and participants are published through the default exchange, by queue name)
VOTES_QUEUE = "votes"
PARTICIPANTS_QUEUE = "participants"
QA_QUEUE = "qa"  # Q&A asks, upvotes (gateways) and moderation (poll-api's outbox)
WORKER_POLL_EVENTS_QUEUE = "vote-worker.poll-events"
AUDIT_QUEUE = "audit"
AUDIT_STREAM = "audit.stream"

DEFAULT_DELIVERY_LIMIT = 10
DEFAULT_VOTES_MAX_LENGTH = 200_000  # messages; a batch holds up to 1000 votes
AUDIT_STREAM_MAX_AGE = "30D"


def dead_letter_queue(queue: str) -> str:
    return f"{queue}.dead"


def tally_routing_key(poll_id: UUID | str) -> str:
    return f"poll.{poll_id}.tally"


def state_routing_key(poll_id: UUID | str) -> str:
    return f"poll.{poll_id}.state"


def quiz_routing_key(poll_id: UUID | str) -> str:
    return f"poll.{poll_id}.quiz"


def qa_routing_key(poll_id: UUID | str) -> str:
    return f"poll.{poll_id}.qa"


def poll_binding_key(poll_id: UUID | str) -> str:
    """What a gateway binds while it has a participant of the poll connected."""
    return f"poll.{poll_id}.#"


def poll_event_routing_key(event: str) -> str:
    return f"poll.{event}"


def audit_routing_key(service: str) -> str:
    return f"audit.{service}"


ExchangeKind = Literal["topic", "direct", "fanout"]


@dataclass(frozen=True)
class ExchangeSpec:
    name: str
    kind: ExchangeKind


@dataclass(frozen=True)
class QueueSpec:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    bindings: tuple[tuple[str, str], ...] = ()  # (exchange, routing key)


def _quorum_with_dead_letters(name: str, delivery_limit: int, **extra: Any) -> QueueSpec:
    return QueueSpec(
        name=name,
        arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": delivery_limit,
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": name,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
            **extra,
        },
    )


def exchanges() -> tuple[ExchangeSpec, ...]:
    return (
        ExchangeSpec(LIVE_EXCHANGE, "topic"),
        ExchangeSpec(POLLS_EXCHANGE, "topic"),
        ExchangeSpec(AUDIT_EXCHANGE, "topic"),
        ExchangeSpec(DEAD_LETTER_EXCHANGE, "direct"),
    )


def durable_queues(
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT,
    votes_max_length: int = DEFAULT_VOTES_MAX_LENGTH,
) -> tuple[QueueSpec, ...]:
    """Every durable queue with its arguments and bindings. Arguments must match everywhere."""
    work = [
        _quorum_with_dead_letters(
            VOTES_QUEUE, delivery_limit, **{"x-max-length": votes_max_length}
        ),
        _quorum_with_dead_letters(PARTICIPANTS_QUEUE, delivery_limit),
        _quorum_with_dead_letters(QA_QUEUE, delivery_limit),
        QueueSpec(
            name=WORKER_POLL_EVENTS_QUEUE,
            arguments=_quorum_with_dead_letters(WORKER_POLL_EVENTS_QUEUE, delivery_limit).arguments,
            bindings=((POLLS_EXCHANGE, "poll.#"),),
        ),
        QueueSpec(
            name=AUDIT_QUEUE,
            arguments=_quorum_with_dead_letters(AUDIT_QUEUE, delivery_limit).arguments,
            bindings=((AUDIT_EXCHANGE, "#"),),
        ),
    ]
    dead = [
        QueueSpec(
            name=dead_letter_queue(q.name),
            arguments={"x-queue-type": "quorum"},
            bindings=((DEAD_LETTER_EXCHANGE, q.name),),
        )
        for q in work
    ]
    stream = QueueSpec(
        name=AUDIT_STREAM,
        arguments={"x-queue-type": "stream", "x-max-age": AUDIT_STREAM_MAX_AGE},
        bindings=((AUDIT_EXCHANGE, "#"),),
    )
    return (*work, *dead, stream)
