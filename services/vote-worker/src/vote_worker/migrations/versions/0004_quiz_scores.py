"""Quiz scores (revision 0004): points per question, scores and ranks, a board per poll.

Recomputed for a whole poll from `votes`, `questions` and `participants` (docs/quiz.md); the
worker replaces a poll's rows in one transaction, so these tables hold no history.
"""

from alembic import op

revision, down_revision = "0004", "0003"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE quiz_points (
            poll_id uuid NOT NULL,
            qid smallint NOT NULL,
            participant_id uuid NOT NULL,
            correct boolean NOT NULL,
            points integer NOT NULL,
            bonus integer NOT NULL,
            streak integer NOT NULL,
            elapsed_us bigint,
            PRIMARY KEY (poll_id, qid, participant_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE quiz_scores (
            poll_id uuid NOT NULL,
            participant_id uuid NOT NULL,
            nickname text NOT NULL,
            score bigint NOT NULL,
            correct_time_us bigint NOT NULL,
            streak integer NOT NULL,
            rank integer NOT NULL,
            version bigint NOT NULL,
            PRIMARY KEY (poll_id, participant_id)
        )
        """
    )
    # The leaderboard's order (docs/quiz.md): score, then time on correct answers.
    op.execute(
        "CREATE INDEX quiz_scores_board"
        " ON quiz_scores (poll_id, score DESC, correct_time_us, participant_id)"
    )
    op.execute(
        """
        CREATE TABLE quiz_boards (
            poll_id uuid PRIMARY KEY,
            version bigint NOT NULL,
            qid smallint,
            participants integer NOT NULL DEFAULT 0,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX quiz_boards_updated_at ON quiz_boards (updated_at)")


def downgrade() -> None:
    for table in ("quiz_boards", "quiz_scores", "quiz_points"):
        op.execute(f"DROP TABLE {table}")
