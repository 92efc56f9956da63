"""Withheld words (revision 0005, `words`): beside a word cloud's tally, the host's list of the
words no screen gets (hidden by the host, banned, profane) with their counts and reasons. It is
never published: poll-api reads it for the host's console (docs/questions.md)."""

from alembic import op

revision, down_revision = "0005", "0004"


def upgrade() -> None:
    op.execute("ALTER TABLE tallies ADD COLUMN withheld jsonb NOT NULL DEFAULT '[]'::jsonb")


def downgrade() -> None:
    op.execute("ALTER TABLE tallies DROP COLUMN withheld")
