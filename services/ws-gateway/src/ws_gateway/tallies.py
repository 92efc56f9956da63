"""Tallies of one question: read from Redis, turned into `tally` frames of the question's kind.

vote-worker publishes `TallyUpdated` per (poll, qid) and keeps the latest in Redis
`poll:<id>:tally:<qid>` (version, epoch, kind, counts JSON, total, aggregate JSON). A frame
carries the question's index and qid, its kind, `total`, `version` and the kind's fields
(`counts`; `counts`, `sum`, `mean`; `points`, `average`; `words`, `distinct`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from uuid import UUID

import orjson
from pydantic import ValidationError

from contracts import TallyUpdated
from contracts.frames import TallyFrame, TallyView
from contracts.polls import QuestionState
from contracts.questions import (
    RankingQuestion,
    RatingQuestion,
    WordcloudQuestion,
    WordcloudQuestionView,
)

log = logging.getLogger(__name__)

# The aggregate's fields a frame carries (the rest of a tally is the frame's own fields).
KIND_FIELDS = ("counts", "sum", "mean", "points", "average", "words", "distinct")
# Kinds whose tally has `counts` (a first-version tally has only the top-level counts).
COUNTS_KINDS = frozenset({"single", "multiple", "quiz", "rating"})


def parse_tally_hash(poll_id: UUID, qid: int, raw: Mapping[Any, Any]) -> TallyUpdated | None:
    """vote-worker's tally hash of one question; None if absent or unreadable."""
    if not raw:
        return None
    try:
        aggregate = orjson.loads(raw["aggregate"]) if raw.get("aggregate") else {}
        if not isinstance(aggregate, dict):
            raise TypeError("aggregate is not an object")
        return TallyUpdated(
            poll_id=poll_id,
            qid=qid,
            kind=str(raw.get("kind") or aggregate.get("kind") or "single"),
            epoch=int(raw["epoch"]),
            counts=[int(c) for c in orjson.loads(raw.get("counts") or "[]")],
            total=int(raw["total"]),
            version=int(raw["version"]),
            aggregate=aggregate,
        )
    except (KeyError, ValueError, TypeError, orjson.JSONDecodeError):
        log.warning("unreadable tally in redis", extra={"poll_id": str(poll_id), "qid": qid})
        return None


def kind_fields(tally: TallyUpdated) -> dict[str, Any]:
    """The kind's fields of a tally, from its aggregate (or its top-level counts)."""
    fields = {name: tally.aggregate[name] for name in KIND_FIELDS if name in tally.aggregate}
    if "counts" not in fields and tally.kind in COUNTS_KINDS:
        fields["counts"] = tally.counts
    return fields


def tally_view(tally: TallyUpdated, index: int) -> TallyView | None:
    """The tally for `joined`; None when its aggregate does not fit a frame (logged)."""
    frame = tally_frame(tally, index)
    if frame is None:
        return None
    return TallyView(**{k: getattr(frame, k) for k in frame.model_fields_set if k != "type"})


def tally_frame(tally: TallyUpdated, index: int) -> TallyFrame | None:
    """A `tally` frame; None when its aggregate does not fit one (logged, never sent).

    Every field is set explicitly: `wire` sends the fields that were set, so a frame carries
    its kind's fields only.
    """
    try:
        return TallyFrame(
            type="tally",
            question=index,
            qid=tally.qid,
            kind=tally.kind,
            total=tally.total,
            version=tally.version,
            **kind_fields(tally),
        )
    except ValidationError as exc:
        log.warning(
            "tally does not fit a frame",
            extra={"poll_id": str(tally.poll_id), "qid": tally.qid, "errors": exc.error_count()},
        )
        return None


def zero_frame(question: QuestionState) -> TallyFrame:
    """The tally of a question without answers (after a reset), in its kind's shape."""
    spec = question.spec
    fields: dict[str, Any]
    if isinstance(spec, RatingQuestion):
        fields = {"counts": [0] * spec.size, "sum": 0, "mean": None}
    elif isinstance(spec, RankingQuestion):
        fields = {"points": [0] * len(spec.options), "average": [None] * len(spec.options)}
    elif isinstance(spec, WordcloudQuestion | WordcloudQuestionView):
        fields = {"words": [], "distinct": 0}
    else:
        fields = {"counts": [0] * len(spec.options)}
    return TallyFrame(
        type="tally",
        question=question.index,
        qid=question.qid,
        kind=spec.kind,
        total=0,
        version=0,
        **fields,
    )
