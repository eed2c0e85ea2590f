"""Sealed personal columns: the ``customer_keys`` table, and the columns that hold sealed cells widened to text.

``invitations.email``, ``invitations.name`` and ``user_traits.user_id`` now hold sealed cells (store/sealed.py),
longer than the plain values. Rows stored before stay as they are (plain values open as themselves) until
``RETENTION`` or ``receiver forget`` erases them; see the README's privacy section for what that means on disk.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_WIDENED = (("invitations", "email", 254), ("invitations", "name", 255), ("user_traits", "user_id", 255))


def upgrade() -> None:
    op.create_table(
        "customer_keys",
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("secret", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("subject", name="pk_customer_keys"),
    )
    for table, column, length in _WIDENED:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.Text, existing_type=sa.String(length))


def downgrade() -> None:
    for table, column, length in _WIDENED:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.String(length), existing_type=sa.Text)
    op.drop_table("customer_keys")
