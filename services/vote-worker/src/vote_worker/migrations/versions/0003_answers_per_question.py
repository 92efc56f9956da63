"""Answers of every kind, per question (revision 0003).

Ballots, votes and tallies gain the question (`qid`, 0 for every existing row: a first-version
poll has one question) and the answer as JSON (`contracts.answers`, with its `kind`); tallies
gain the aggregate's counters (`contracts.aggregates.encode_counters`) and the tally screens
get. Votes and tallies are now unique per (poll, question): stop the workers while this runs
(the `votes` queue holds what arrives meanwhile), then start the new ones.
"""

from alembic import op

revision, down_revision = "0003", "0002"


def upgrade() -> None:
    for table in ("ballots", "votes"):
        op.execute(
            f"""
            ALTER TABLE {table}
                ADD COLUMN qid smallint NOT NULL DEFAULT 0,
                ADD COLUMN answer jsonb,
                ALTER COLUMN option DROP NOT NULL
            """
        )
        op.execute(
            f"UPDATE {table} SET answer = jsonb_build_object('kind', 'single', 'option', option)"  # noqa: S608
        )
        op.execute(f"ALTER TABLE {table} ALTER COLUMN answer SET NOT NULL")
    op.execute("DROP INDEX ballots_poll")
    op.execute("CREATE INDEX ballots_poll ON ballots (poll_id, qid, participant_id)")
    op.execute("ALTER TABLE votes DROP CONSTRAINT votes_pkey")
    op.execute("ALTER TABLE votes ADD PRIMARY KEY (poll_id, qid, participant_id)")
    op.execute(
        """
        ALTER TABLE tallies
            ADD COLUMN qid smallint NOT NULL DEFAULT 0,
            ADD COLUMN kind varchar(16) NOT NULL DEFAULT 'single',
            ADD COLUMN counters jsonb NOT NULL DEFAULT '{}'::jsonb,
            ADD COLUMN aggregate jsonb NOT NULL DEFAULT '{}'::jsonb
        """
    )
    op.execute(
        """
        UPDATE tallies t
        SET counters = COALESCE(
                (SELECT jsonb_object_agg('["counts",' || (i - 1) || ']', t.counts[i])
                 FROM generate_subscripts(t.counts, 1) AS i
                 WHERE t.counts[i] <> 0),
                '{}'::jsonb
            ) || CASE WHEN t.total <> 0 THEN jsonb_build_object('["total"]', t.total)
                      ELSE '{}'::jsonb END,
            aggregate = jsonb_build_object('kind', 'single', 'counts', to_jsonb(t.counts),
                                           'total', t.total)
        """
    )
    op.execute("ALTER TABLE tallies DROP CONSTRAINT tallies_pkey")
    op.execute("ALTER TABLE tallies ADD PRIMARY KEY (poll_id, qid)")


def downgrade() -> None:
    # Only question 0's single-choice rows fit the first version's tables.
    for table in ("ballots", "votes", "tallies"):
        op.execute(f"DELETE FROM {table} WHERE qid <> 0")  # noqa: S608
    op.execute("DELETE FROM ballots WHERE option IS NULL")
    op.execute("DELETE FROM votes WHERE option IS NULL")
    op.execute("ALTER TABLE tallies DROP CONSTRAINT tallies_pkey")
    op.execute("ALTER TABLE tallies ADD PRIMARY KEY (poll_id)")
    op.execute(
        "ALTER TABLE tallies DROP COLUMN qid, DROP COLUMN kind, DROP COLUMN counters,"
        " DROP COLUMN aggregate"
    )
    op.execute("ALTER TABLE votes DROP CONSTRAINT votes_pkey")
    op.execute("ALTER TABLE votes ADD PRIMARY KEY (poll_id, participant_id)")
    op.execute("DROP INDEX ballots_poll")
    op.execute("CREATE INDEX ballots_poll ON ballots (poll_id, participant_id)")
    for table in ("ballots", "votes"):
        op.execute(
            f"ALTER TABLE {table} DROP COLUMN qid, DROP COLUMN answer,"
            " ALTER COLUMN option SET NOT NULL"
        )
