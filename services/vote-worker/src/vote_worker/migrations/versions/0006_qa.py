"""The Q&A board (revision 0006): items, upvotes and a version per poll (docs/qa.md).

`qa_items.score` is kept equal to the number of `up` rows of `qa_votes` for the item: each
batch recounts the items it touched, under the items' row locks, in the transaction that
upserts the votes. `status_seq` and `pin_seq` order the host's moderation (latest wins);
`qa_votes.seq` orders a participant's upvotes of one item (latest wins).
"""

from alembic import op

revision, down_revision = "0006", "0005"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE qa_items (
            item_id uuid PRIMARY KEY,
            poll_id uuid NOT NULL,
            participant_id uuid NOT NULL,
            text text NOT NULL,
            status text NOT NULL CHECK (status IN ('pending', 'approved', 'hidden', 'answered')),
            pinned boolean NOT NULL DEFAULT false,
            score integer NOT NULL DEFAULT 0,
            seq bigint NOT NULL,
            status_seq bigint NOT NULL DEFAULT 0,
            pin_seq bigint NOT NULL DEFAULT 0,
            asked_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX qa_items_poll ON qa_items (poll_id, asked_at)")
    op.execute(
        """
        CREATE TABLE qa_votes (
            item_id uuid NOT NULL,
            participant_id uuid NOT NULL,
            poll_id uuid NOT NULL,
            up boolean NOT NULL,
            seq bigint NOT NULL,
            action_id uuid NOT NULL,
            cast_at timestamptz NOT NULL,
            PRIMARY KEY (item_id, participant_id)
        )
        """
    )
    op.execute("CREATE INDEX qa_votes_poll ON qa_votes (poll_id)")
    op.execute(
        """
        CREATE TABLE qa_boards (
            poll_id uuid PRIMARY KEY,
            version bigint NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    for table in ("qa_boards", "qa_votes", "qa_items"):
        op.execute(f"DROP TABLE {table}")
