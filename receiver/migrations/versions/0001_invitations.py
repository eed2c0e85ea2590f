"""The invitations outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

QUEUED = ("pending", "retrying", "sending")


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("ref", sa.String(255), nullable=False),
        sa.Column("order_key", sa.String(300), nullable=False),
        sa.Column("email", sa.String(254)),
        sa.Column("name", sa.String(255)),
        sa.Column("skus", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("locale", sa.String(35)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("lease_token", sa.String(32)),
        sa.Column("last_error", sa.String(500)),
        sa.Column("ordered_at", sa.DateTime),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
        sa.UniqueConstraint("message_id", name="uq_invitations_message_id"),
        sa.UniqueConstraint("domain", "order_key", name="uq_invitations_domain_order"),
    )
    due = sa.text("state IN ('pending', 'retrying', 'sending')")
    op.create_index("ix_invitations_due", "invitations", ["next_attempt_at"], postgresql_where=due, sqlite_where=due)
    op.create_index("ix_invitations_state", "invitations", ["state"])


def downgrade() -> None:
    op.drop_table("invitations")
