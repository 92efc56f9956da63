"""Queue depths by passive declare: what load shedding and the dead-letter metric sample."""

from __future__ import annotations

from collections.abc import Iterable

from aio_pika.abc import AbstractChannel

from contracts.topology import dead_letter_queue, durable_queues


def dead_letter_queues() -> list[str]:
    """Every `<queue>.dead` of the topology."""
    names = {q.name for q in durable_queues()}
    return [dead_letter_queue(n) for n in sorted(names) if dead_letter_queue(n) in names]


async def queue_depth(channel: AbstractChannel, name: str) -> int:
    """Messages ready in `name`. A passive declare creates nothing; a missing queue raises
    (and closes the channel), so callers open a fresh channel after an error.

    It goes to the underlying channel on purpose: aio-pika's robust channel answers a passive
    `declare_queue` of a queue it already knows from its cache, with the old message count.
    """
    underlay = await channel.get_underlay_channel()
    result = await underlay.queue_declare(name, passive=True)
    return int(result.message_count or 0)


async def queue_depths(channel: AbstractChannel, names: Iterable[str]) -> dict[str, int]:
    return {name: await queue_depth(channel, name) for name in names}
