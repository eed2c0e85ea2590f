"""Traits remembered from identify calls, per user and anonymous id.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_traits",
        sa.Column("identity", sa.String(300), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.JSON(none_as_null=True)),
        sa.Column("observed_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("identity", "name", name="pk_user_traits"),
    )


def downgrade() -> None:
    op.drop_table("user_traits")
