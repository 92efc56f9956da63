"""index tallies by updated_at for the reconciler

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX tallies_updated_at ON tallies (updated_at)")


def downgrade() -> None:
    op.execute("DROP INDEX tallies_updated_at")
