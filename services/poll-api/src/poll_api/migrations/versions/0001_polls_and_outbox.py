"""The polls and outbox tables (revision 0001)."""

from alembic import op

revision, down_revision = "0001", None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE polls (
            id uuid PRIMARY KEY,
            room_code varchar(6) NOT NULL UNIQUE,
            question text NOT NULL,
            options jsonb NOT NULL,
            kind varchar(16) NOT NULL DEFAULT 'single',
            status varchar(16) NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft', 'open', 'closed')),
            revealed boolean NOT NULL DEFAULT false,
            epoch integer NOT NULL DEFAULT 0,
            state_version bigint NOT NULL DEFAULT 0,
            host_token_hash varchar(64) NOT NULL,
            settings jsonb NOT NULL DEFAULT '{}'::jsonb,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            opened_at timestamptz,
            closed_at timestamptz,
            revealed_at timestamptz,
            expires_at timestamptz NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX polls_expires_at ON polls (expires_at)")
    op.execute("CREATE INDEX polls_active ON polls (updated_at) WHERE status <> 'draft'")
    op.execute(
        """
        CREATE TABLE outbox (
            id bigserial PRIMARY KEY,
            message_id uuid NOT NULL UNIQUE,
            exchange text NOT NULL,
            routing_key text NOT NULL,
            message_type text NOT NULL,
            body jsonb NOT NULL,
            headers jsonb NOT NULL DEFAULT '{}'::jsonb,
            created_at timestamptz NOT NULL DEFAULT now(),
            published_at timestamptz,
            attempts integer NOT NULL DEFAULT 0
        )
        """
    )
    op.execute("CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL")


def downgrade() -> None:
    op.execute("DROP TABLE outbox")
    op.execute("DROP TABLE polls")
