"""A poll is a run of questions: the questions table, and the poll's title and current question
(revision 0002). Every existing poll becomes a run of one single-choice question, qid 0."""

from alembic import op

revision, down_revision = "0002", "0001"


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE polls
            ADD COLUMN title text,
            ADD COLUMN current_qid smallint NOT NULL DEFAULT 0,
            ADD COLUMN next_qid smallint NOT NULL DEFAULT 1
        """
    )
    op.execute(
        """
        CREATE TABLE questions (
            poll_id uuid NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
            qid smallint NOT NULL CHECK (qid >= 0),
            position smallint NOT NULL CHECK (position >= 0),
            kind varchar(16) NOT NULL,
            spec jsonb NOT NULL,
            status varchar(16) NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft', 'open', 'closed')),
            revealed boolean NOT NULL DEFAULT false,
            epoch integer NOT NULL DEFAULT 0,
            ever_opened boolean NOT NULL DEFAULT false,
            opened_at timestamptz,
            closes_at timestamptz,
            closed_at timestamptz,
            closed_by varchar(8) CHECK (closed_by IN ('host', 'timer')),
            revealed_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (poll_id, qid),
            CONSTRAINT questions_position UNIQUE (poll_id, position) DEFERRABLE INITIALLY DEFERRED
        )
        """
    )
    # The timer loop's scan: open questions with a deadline.
    op.execute(
        "CREATE INDEX questions_due ON questions (closes_at)"
        " WHERE status = 'open' AND closes_at IS NOT NULL"
    )
    op.execute(
        """
        INSERT INTO questions (poll_id, qid, position, kind, spec, status, revealed, epoch,
                               ever_opened, opened_at, closed_at, closed_by, revealed_at,
                               created_at, updated_at)
        SELECT id, 0, 0, 'single',
               jsonb_build_object('kind', 'single', 'prompt', question, 'options', options),
               status, revealed, epoch, status <> 'draft' OR opened_at IS NOT NULL,
               opened_at, closed_at, CASE WHEN status = 'closed' THEN 'host' END, revealed_at,
               created_at, updated_at
        FROM polls
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE questions")
    op.execute("ALTER TABLE polls DROP COLUMN title, DROP COLUMN current_qid, DROP COLUMN next_qid")
