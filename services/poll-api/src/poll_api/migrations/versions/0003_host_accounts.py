"""Host accounts (revision 0003): `host_accounts`, `refresh_tokens`, and `polls.owner_id`.

Expand only: a running 0002 poll-api ignores the new column and tables, so it keeps serving
while this one rolls out. The downgrade drops them (and with them who owns which poll).
"""

from alembic import op

revision, down_revision = "0003", "0002"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE host_accounts (
            id uuid PRIMARY KEY,
            email text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
            password_hash text NOT NULL,
            created_at timestamptz NOT NULL,
            password_changed_at timestamptz NOT NULL
        )
        """
    )
    op.execute("CREATE UNIQUE INDEX host_accounts_email ON host_accounts (lower(email))")
    op.execute(
        """
        CREATE TABLE refresh_tokens (
            token_hash char(64) PRIMARY KEY,
            account_id uuid NOT NULL REFERENCES host_accounts (id) ON DELETE CASCADE,
            family uuid NOT NULL,
            issued_at timestamptz NOT NULL,
            expires_at timestamptz NOT NULL,
            revoked_at timestamptz
        )
        """
    )
    op.execute("CREATE INDEX refresh_tokens_account ON refresh_tokens (account_id)")
    op.execute("CREATE INDEX refresh_tokens_family ON refresh_tokens (family)")
    op.execute(
        "ALTER TABLE polls ADD COLUMN owner_id uuid"
        " REFERENCES host_accounts (id) ON DELETE SET NULL"
    )
    op.execute(
        "CREATE INDEX polls_owner ON polls (owner_id, created_at DESC) WHERE owner_id IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS polls_owner")
    op.execute("ALTER TABLE polls DROP COLUMN IF EXISTS owner_id")
    op.execute("DROP TABLE IF EXISTS refresh_tokens")
    op.execute("DROP TABLE IF EXISTS host_accounts")
