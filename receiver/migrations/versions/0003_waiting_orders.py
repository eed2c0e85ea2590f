"""Orders that wait for their email, and traits that remember whose message set them (issue 13).

- ``invitations.user_id``, ``anonymous_id``: a waiting order's customer, whose stored traits may yet give its
  email; ``wait_until``: when it stops waiting (``EMAIL_WAIT`` after it arrived) and becomes ``dead``;
  ``recheck_from``: a stored trait of the customer updated at or after this time is worth another look.
- ``user_traits.user_id``: the userId of the message that set the trait, so that traits stored under an
  anonymousId are never used for another customer's order. Rows stored before this column existed do not say;
  those under an anonymousId are marked '' (not known), which no order uses: a shared browser's old traits must
  not reach the next customer. Under a userId the column does not matter.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("invitations", sa.Column("user_id", sa.String(255)))
    op.add_column("invitations", sa.Column("anonymous_id", sa.String(255)))
    op.add_column("invitations", sa.Column("wait_until", sa.DateTime))
    op.add_column("invitations", sa.Column("recheck_from", sa.DateTime))
    op.add_column("user_traits", sa.Column("user_id", sa.String(255)))
    op.execute("UPDATE user_traits SET user_id = '' WHERE identity LIKE 'anon:%'")


def downgrade() -> None:
    with op.batch_alter_table("user_traits") as table:
        table.drop_column("user_id")
    with op.batch_alter_table("invitations") as table:
        table.drop_column("recheck_from")
        table.drop_column("wait_until")
        table.drop_column("anonymous_id")
        table.drop_column("user_id")
