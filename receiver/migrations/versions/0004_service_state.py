"""The rows the processes share (the metrics' gauges snapshot, the readiness probe's row), and an index by state
and due time that serves the metrics' gauges alone, in place of the index by state.

Revision ID: 0004
Revises: 0002 (on the branch that adds 0003, this revises 0003)
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "service_state",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("taken_at", sa.DateTime),
        sa.Column("refreshing_until", sa.DateTime),
        sa.Column("payload", sa.JSON(none_as_null=True)),
    )
    op.bulk_insert(table, [{"name": "queue"}, {"name": "probe"}])
    op.create_index("ix_invitations_state_due", "invitations", ["state", "next_attempt_at"])
    op.drop_index("ix_invitations_state", table_name="invitations")


def downgrade() -> None:
    op.create_index("ix_invitations_state", "invitations", ["state"])
    op.drop_index("ix_invitations_state_due", table_name="invitations")
    op.drop_table("service_state")
