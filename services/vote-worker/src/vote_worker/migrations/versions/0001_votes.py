"""The participants, ballots, votes and tallies tables (revision 0001)."""

from alembic import op

revision, down_revision = "0001", None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE participants (
            poll_id uuid NOT NULL,
            participant_id uuid NOT NULL,
            nickname varchar(40) NOT NULL,
            joined_at timestamptz NOT NULL,
            last_seen_at timestamptz NOT NULL,
            PRIMARY KEY (poll_id, participant_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE ballots (
            vote_id uuid PRIMARY KEY,
            poll_id uuid NOT NULL,
            participant_id uuid NOT NULL,
            option smallint NOT NULL,
            seq bigint NOT NULL,
            epoch integer NOT NULL,
            cast_at timestamptz NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX ballots_poll ON ballots (poll_id, participant_id)")
    op.execute(
        """
        CREATE TABLE votes (
            poll_id uuid NOT NULL,
            participant_id uuid NOT NULL,
            option smallint NOT NULL,
            seq bigint NOT NULL,
            vote_id uuid NOT NULL,
            epoch integer NOT NULL,
            cast_at timestamptz NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (poll_id, participant_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE tallies (
            poll_id uuid PRIMARY KEY,
            epoch integer NOT NULL DEFAULT 0,
            counts bigint[] NOT NULL,
            total bigint NOT NULL DEFAULT 0,
            version bigint NOT NULL DEFAULT 0,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    for table in ("tallies", "votes", "ballots", "participants"):
        op.execute(f"DROP TABLE {table}")
