"""Word-cloud moderation (revision 0005, `words`): the host's hidden and shown words of each
question, `{normalised word: "hidden" | "shown"}` (contracts.moderation). The worker reads it
with the question and leaves the withheld words out of the tally every screen gets."""

from alembic import op

revision, down_revision = "0005", "0004"


def upgrade() -> None:
    op.execute(
        "ALTER TABLE questions ADD COLUMN word_moderation jsonb NOT NULL DEFAULT '{}'::jsonb"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE questions DROP COLUMN word_moderation")
