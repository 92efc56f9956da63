"""Inspect and replay dead letters: `python -m zephyr_runtime.deadletters list|show|replay`.

Every work queue `<q>` dead-letters (delivery limit reached, or a consumer rejected a poison
message) into the quorum queue `<q>.dead`. This tool shows their depths, prints messages without
removing them, and replays them into `<q>` again (publisher confirms, then ack: a replayed
message is never lost, at worst it is replayed twice, which every consumer deduplicates).

    python -m zephyr_runtime.deadletters list
    python -m zephyr_runtime.deadletters show --queue votes --limit 5
    python -m zephyr_runtime.deadletters replay --queue votes [--limit 100]

The broker URL comes from `--amqp-url`, else `ZEPHYR_AMQP_URL`, else the local default.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import dataclass
from typing import Any

import aio_pika
import orjson
from aio_pika.abc import AbstractIncomingMessage
from pamqp.commands import Basic

from contracts.topology import dead_letter_queue
from zephyr_runtime.queues import dead_letter_queues, queue_depth

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
REPLAYED_HEADER = "x-zephyr-replayed"


@dataclass(frozen=True)
class DeadLetter:
    message_id: str | None
    type: str | None
    reason: str | None
    queue: str | None
    count: int | None
    body: str

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _decode(value: object) -> str | None:
    if value is None:
        return None
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def describe(message: AbstractIncomingMessage, preview: int = 300) -> DeadLetter:
    """Why and from where a message died, from its `x-death` header."""
    headers = message.headers or {}
    deaths = headers.get("x-death") or []
    head = deaths[0] if isinstance(deaths, list) and deaths else None
    first: dict[str, Any] = head if isinstance(head, dict) else {}
    count = first.get("count")
    return DeadLetter(
        message_id=message.message_id,
        type=message.type,
        reason=_decode(first.get("reason") or headers.get("x-first-death-reason")),
        queue=_decode(first.get("queue") or headers.get("x-first-death-queue")),
        count=int(count) if isinstance(count, int) else None,
        body=message.body[:preview].decode(errors="replace"),
    )


def source_queue(queue: str) -> str:
    """`votes` or `votes.dead` -> `votes`."""
    return queue.removesuffix(".dead")


async def depths(url: str) -> dict[str, int]:
    connection = await aio_pika.connect(url, timeout=10)
    async with connection:
        channel = await connection.channel()
        return {name: await queue_depth(channel, name) for name in dead_letter_queues()}


async def peek(url: str, queue: str, limit: int) -> list[DeadLetter]:
    """Up to `limit` dead letters, left in place (unacked until the channel closes)."""
    connection = await aio_pika.connect(url, timeout=10)
    async with connection:
        channel = await connection.channel()
        dead = await channel.declare_queue(dead_letter_queue(source_queue(queue)), passive=True)
        seen: list[DeadLetter] = []
        for _ in range(limit):
            message = await dead.get(no_ack=False, fail=False, timeout=10)
            if message is None:
                break
            seen.append(describe(message))
        return seen  # closing the channel returns every message we held


async def replay(url: str, queue: str, limit: int | None = None) -> int:
    """Move up to `limit` (default all) dead letters back into their queue; returns how many."""
    target = source_queue(queue)
    connection = await aio_pika.connect(url, timeout=10)
    replayed = 0
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        dead = await channel.declare_queue(dead_letter_queue(target), passive=True)
        await channel.declare_queue(target, passive=True)  # the target must exist
        while limit is None or replayed < limit:
            message = await dead.get(no_ack=False, fail=False, timeout=10)
            if message is None:
                break
            headers = dict(message.headers or {})
            previous = headers.get(REPLAYED_HEADER)
            headers[REPLAYED_HEADER] = (previous if isinstance(previous, int) else 0) + 1
            confirmation = await channel.default_exchange.publish(
                aio_pika.Message(
                    body=message.body,
                    headers=headers,
                    content_type=message.content_type,
                    message_id=message.message_id,
                    type=message.type,
                    correlation_id=message.correlation_id,
                    timestamp=message.timestamp,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=target,
                mandatory=True,
                timeout=10,
            )
            if confirmation is not None and not isinstance(confirmation, Basic.Ack):
                await message.nack(requeue=True)
                raise RuntimeError(f"broker refused the replayed message {message.message_id}")
            await message.ack()  # only after the confirm: a crash here replays it twice
            replayed += 1
    return replayed


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m zephyr_runtime.deadletters", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--amqp-url", default=os.environ.get("ZEPHYR_AMQP_URL", DEFAULT_AMQP_URL))
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="depth of every dead-letter queue")
    show = sub.add_parser("show", help="print dead letters without removing them")
    show.add_argument("--queue", required=True, help="votes, participants, audit, ...")
    show.add_argument("--limit", type=int, default=10)
    again = sub.add_parser("replay", help="move dead letters back into their queue")
    again.add_argument("--queue", required=True)
    again.add_argument("--limit", type=int, default=None)
    return parser


async def _main(args: argparse.Namespace) -> int:
    if args.command == "list":
        found = await depths(args.amqp_url)
        if args.json:
            print(orjson.dumps(found).decode())
        else:
            for name, depth in found.items():
                print(f"{name:32} {depth}")
    elif args.command == "show":
        letters = await peek(args.amqp_url, args.queue, args.limit)
        if args.json:
            print(orjson.dumps([d.as_dict() for d in letters]).decode())
        for letter in letters if not args.json else []:
            print(
                f"{letter.message_id} type={letter.type} reason={letter.reason} "
                f"queue={letter.queue} count={letter.count}\n  {letter.body}"
            )
    else:
        count = await replay(args.amqp_url, args.queue, args.limit)
        if args.json:
            print(orjson.dumps({"replayed": count}).decode())
        else:
            print(f"replayed {count} message(s) into {source_queue(args.queue)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_main(args))
    except (OSError, aio_pika.exceptions.AMQPError, RuntimeError) as exc:
        print(f"deadletters: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
