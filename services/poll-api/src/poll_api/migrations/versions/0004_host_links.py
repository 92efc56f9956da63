"""Host links (revision 0004): secrets that control one poll like its host token, each
revocable on its own (for the host's laptop or phone). Expand only."""

from alembic import op

revision, down_revision = "0004", "0003"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE host_links (
            id uuid PRIMARY KEY,
            poll_id uuid NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
            secret_hash char(64) NOT NULL UNIQUE,
            label text CHECK (length(label) <= 80),
            created_at timestamptz NOT NULL,
            revoked_at timestamptz
        )
        """
    )
    op.execute("CREATE INDEX host_links_poll ON host_links (poll_id)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS host_links")
