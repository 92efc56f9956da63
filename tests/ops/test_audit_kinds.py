"""docs/audit.md documents every audit kind any service emits, and the schema's version."""

from __future__ import annotations

import re
from pathlib import Path

from contracts import AuditBatch

ROOT = Path(__file__).resolve().parents[2]
NAMESPACES = ("poll", "question", "vote", "participant", "security", "deadletter", "message")
KIND_LITERAL = re.compile(r"""["']((?:""" + "|".join(NAMESPACES) + r""")\.[a-z][a-z0-9_]*)["']""")


def emitted_kinds() -> set[str]:
    """Kinds found by grepping the services' and libs' code (as docs/audit.md was written)."""
    found: set[str] = set()
    for path in [*ROOT.glob("services/*/src/**/*.py"), *ROOT.glob("libs/*/src/**/*.py")]:
        text = path.read_text(encoding="utf-8")
        found.update(KIND_LITERAL.findall(text))
    return found


def test_every_emitted_kind_is_documented() -> None:
    doc = (ROOT / "docs" / "audit.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+\.[a-z0-9_]+)` \|", doc, flags=re.MULTILINE))
    kinds = emitted_kinds()
    assert {"poll.created", "vote.recorded", "participant.joined"} <= kinds
    # Every host action of poll-api's lifecycle has its kind (outbox.AUDIT_KIND).
    assert {"question.opened", "question.closed", "question.shown", "question.reset"} <= kinds
    missing = kinds - documented
    assert not missing, f"document these audit kinds in docs/audit.md's table: {sorted(missing)}"


def test_the_schema_version_is_documented() -> None:
    doc = (ROOT / "docs" / "audit.md").read_text(encoding="utf-8")
    assert f"`{AuditBatch.message_type()}`" in doc
