"""Index tallies by updated_at for the reconciler (revision 0002)."""

from alembic import op

revision, down_revision = "0002", "0001"


def upgrade() -> None:
    op.execute("CREATE INDEX tallies_updated_at ON tallies (updated_at)")


def downgrade() -> None:
    op.execute("DROP INDEX tallies_updated_at")
