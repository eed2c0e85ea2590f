"""Address keys on invitations and stored traits, and the suppression list (by address key only).

Rows stored before this revision get their address keys from ``receiver db upgrade`` (which knows ``DATA_KEY``,
unlike a migration): see ``store.AddressKeys.backfill``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("invitations", sa.Column("address_key", sa.String(64)))
    op.create_index("ix_invitations_address_key", "invitations", ["address_key"])
    op.add_column("user_traits", sa.Column("address_key", sa.String(64)))
    op.create_index("ix_user_traits_address_key", "user_traits", ["address_key"])
    op.create_table(
        "suppressions",
        sa.Column("address_key", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(264), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("address_key", "reason", name="pk_suppressions"),
    )


def downgrade() -> None:
    op.drop_table("suppressions")
    op.drop_index("ix_user_traits_address_key", table_name="user_traits")
    with op.batch_alter_table("user_traits") as table:
        table.drop_column("address_key")
    op.drop_index("ix_invitations_address_key", table_name="invitations")
    with op.batch_alter_table("invitations") as table:
        table.drop_column("address_key")
