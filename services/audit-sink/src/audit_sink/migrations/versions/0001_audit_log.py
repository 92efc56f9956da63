"""The audit_log table (revision 0001)."""

from alembic import op

revision, down_revision = "0001", None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE audit_log (
            event_id uuid PRIMARY KEY,
            kind varchar(64) NOT NULL,
            service varchar(32) NOT NULL,
            occurred_at timestamptz NOT NULL,
            poll_id uuid,
            participant_id uuid,
            correlation_id varchar(128),
            client_ip varchar(64),
            data jsonb NOT NULL DEFAULT '{}'::jsonb,
            recorded_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX audit_log_poll ON audit_log (poll_id, occurred_at)")
    op.execute("CREATE INDEX audit_log_occurred ON audit_log (occurred_at)")
    op.execute("CREATE INDEX audit_log_kind ON audit_log (kind, occurred_at)")
    # Append-only: updates and deletes are refused except by the retention job's role setting.
    op.execute(
        """
        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF current_setting('zephyr.audit_retention', true) = 'on' AND TG_OP = 'DELETE' THEN
                RETURN OLD;
            END IF;
            RAISE EXCEPTION 'audit_log is append-only';
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE audit_log")
    op.execute("DROP FUNCTION audit_log_append_only()")
