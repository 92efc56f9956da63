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
        """Hash: state_version, view (PollView JSON), current (qid), status, epoch, revealed
        (the current question's), and per question `q<qid>:status`, `q<qid>:epoch`,
        `q<qid>:closes_us` (docs/questions.md)."""
        return f"{self.prefix}:poll:{poll_id}:state"

    def tally(self, poll_id: UUID | str, qid: int = 0) -> str:
        """Hash of one question: version, epoch, kind, counts (JSON), total, aggregate (JSON)."""
        return f"{self.prefix}:poll:{poll_id}:tally:{qid}"

    def nicknames(self, poll_id: UUID | str) -> str:
        """Hash: casefolded nickname -> participant id."""
        return f"{self.prefix}:poll:{poll_id}:nicks"

    def my_votes(self, poll_id: UUID | str) -> str:
        """Hash: "<participant id>:<qid>" -> "<epoch>:<answer JSON>" of their latest accepted
        answer to that question."""
        return f"{self.prefix}:poll:{poll_id}:myvotes"

    def vote_seq(self, poll_id: UUID | str) -> str:
        """Hash: participant id -> last vote sequence number handed out."""
        return f"{self.prefix}:poll:{poll_id}:seq"

    def quiz_results(self, poll_id: UUID | str) -> str:
        """Hash: participant id -> JSON of their result after the latest scored quiz question:
        {qid, correct, points, bonus, streak, score, rank, version} (vote-worker writes it)."""
        return f"{self.prefix}:poll:{poll_id}:quiz"

    def leaderboard(self, poll_id: UUID | str) -> str:
        """String: the latest `QuizScored` body (JSON), for a participant who joins later."""
        return f"{self.prefix}:poll:{poll_id}:board"

    def qa_board(self, poll_id: UUID | str) -> str:
        """The latest `QaBoardUpdated` of a poll (JSON), written by vote-worker if newer."""
        return f"{self.prefix}:poll:{poll_id}:qa"

    def qa_seq(self, poll_id: UUID | str) -> str:
        """Q&A sequence numbers per participant, and the count of asks (`asks`) of a poll."""
        return f"{self.prefix}:poll:{poll_id}:qaseq"

    def presence(self, poll_id: UUID | str) -> str:
        """Hash: gateway process -> participant sockets of this poll connected there now
        (ws_gateway.presence; a field counts only while that gateway's `gateway_alive` key
        lives)."""
        return f"{self.prefix}:poll:{poll_id}:presence"

    def gateway_alive(self, gateway: str) -> str:
        """String with a short TTL, refreshed by the heartbeat of one gateway process."""
        return f"{self.prefix}:gateway:{gateway}:alive"

    def alive(self) -> str:
        """String: set by vote-worker's rebuild once Redis holds what Postgres can give back
        (nicknames, own answers, sequences, quiz locks). Its absence means Redis lost its data
        (or is new): the gateway then refuses joins and resumes with `unavailable`
        (docs/reliability.md, "Redis loses its data")."""
        return f"{self.prefix}:alive"

    def rebuilding(self) -> str:
        """String with a TTL: the token of the vote-worker replica rebuilding Redis now."""
        return f"{self.prefix}:rebuilding"

    def rate(self, scope: str, subject: str) -> str:
        return f"{self.prefix}:rate:{scope}:{subject}"
