"""Every delivery attempt: one row of ``deliveries`` per attempt (when, sender, outcome, code, fixed text, duration),
and ``delivery_counts``, the attempts counted by sender and outcome.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("invitation_id", ID, nullable=False),
        sa.Column("attempted_at", sa.DateTime, nullable=False),
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("code", sa.String(64)),
        sa.Column("error", sa.String(500)),
        sa.Column("duration_seconds", sa.Float, nullable=False),
        sa.ForeignKeyConstraint(["invitation_id"], ["invitations.id"], name="fk_deliveries_invitation",
                                ondelete="CASCADE"),
    )
    op.create_index("ix_deliveries_invitation", "deliveries", ["invitation_id", "attempted_at"])
    op.create_index("ix_deliveries_outcome_at", "deliveries", ["outcome", "attempted_at"])
    op.create_table(
        "delivery_counts",
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("shard", sa.Integer, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("sender", "outcome", "shard", name="pk_delivery_counts"),
    )


def downgrade() -> None:
    op.drop_table("delivery_counts")
    op.drop_table("deliveries")
