"""A word cloud's moderation: the host lists the words, hides one and shows it again.

Every route needs the host token and checks it before anything about the poll (a stranger gets
401/403). `n` is the question's index in the run; a question that is not a word cloud is 409.
"""

from __future__ import annotations

from fastapi import APIRouter

from poll_api import service
from poll_api.api.deps import CallerDep, ContextDep, ReadSessionDep, RoomCodeDep, SessionDep
from poll_api.api.routes.polls import HOST_ERRORS
from poll_api.words import (
    WordBody,
    WordModerated,
    WordsHost,
    moderate,
    read_withheld,
    words_host,
)

router = APIRouter(prefix="/api/polls/{room_code}/questions/{index}/words", tags=["words"])


@router.get("", response_model=WordsHost, responses=HOST_ERRORS)
async def list_words(
    room_code: RoomCodeDep,
    index: int,
    reads: ReadSessionDep,
    session: SessionDep,
    caller: CallerDep,
) -> WordsHost:
    """The words every screen shows, the words withheld from them (hidden by the host, banned,
    profane) with their counts, and the host's decisions."""
    run = await service.host_read(reads, session, room_code, caller, "words")
    question = run.at(index)
    row = await reads.run(lambda s: read_withheld(s, run.poll.id, question.qid))
    return words_host(run, index, row)


@router.post("/hide", response_model=WordModerated, responses=HOST_ERRORS)
async def hide_word(
    room_code: RoomCodeDep,
    index: int,
    body: WordBody,
    ctx: ContextDep,
    session: SessionDep,
    caller: CallerDep,
) -> WordModerated:
    """Withhold a word (any spelling) from every screen and the aggregate; its answers stay
    stored, so showing it again restores the exact counts."""
    change = moderate(index, body.word, "hidden")
    await service.change_poll(ctx, session, room_code, caller, "hide_word", change)
    return WordModerated(index=index, word=body.word, state="hidden")


@router.post("/show", response_model=WordModerated, responses=HOST_ERRORS)
async def show_word(
    room_code: RoomCodeDep,
    index: int,
    body: WordBody,
    ctx: ContextDep,
    session: SessionDep,
    caller: CallerDep,
) -> WordModerated:
    """Show a word again: one the host hid, or one the profanity filter or the banned words
    withheld (the host's decision wins)."""
    change = moderate(index, body.word, "shown")
    await service.change_poll(ctx, session, room_code, caller, "show_word", change)
    return WordModerated(index=index, word=body.word, state="shown")
