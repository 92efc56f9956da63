"""Redis key names, in one place, under a configurable prefix (tests isolate by prefix)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class RedisKeys:
    prefix: str = "zephyr"

    def room(self, room_code: str) -> str:
        """String: room code -> poll id."""
        return f"{self.prefix}:room:{room_code}"

    def poll_state(self, poll_id: UUID | str) -> str:
        """Hash: status, epoch, revealed, state_version, view (PollView JSON)."""
        return f"{self.prefix}:poll:{poll_id}:state"

    def tally(self, poll_id: UUID | str) -> str:
        """Hash: version, epoch, counts (JSON), total."""
        return f"{self.prefix}:poll:{poll_id}:tally"

    def nicknames(self, poll_id: UUID | str) -> str:
        """Hash: casefolded nickname -> participant id."""
        return f"{self.prefix}:poll:{poll_id}:nicks"

    def my_votes(self, poll_id: UUID | str) -> str:
        """Hash: participant id -> "epoch:option" of their latest accepted vote."""
        return f"{self.prefix}:poll:{poll_id}:myvotes"

    def vote_seq(self, poll_id: UUID | str) -> str:
        """Hash: participant id -> last vote sequence number handed out."""
        return f"{self.prefix}:poll:{poll_id}:seq"

    def rate(self, scope: str, subject: str) -> str:
        return f"{self.prefix}:rate:{scope}:{subject}"
