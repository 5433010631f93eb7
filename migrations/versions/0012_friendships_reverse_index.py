"""friendships: a covering (user_hi, user_lo) index for the reverse direction

The primary key (user_lo, user_hi) answers "friends of X" for pairs where X is the lower
id with an index-only scan; the old single-column index on user_hi made the other half
of every adjacency look-up visit the heap. The suggestions query walks the adjacency of
all of a user's friends (~90 000 edges for 300 × 300), so both halves should be
index-only. The new index also serves every look-up the old one did, which is dropped.

Revision ID: 0012
Revises: 0002
Create Date: 2026-11-26 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("friendships", schema=None) as batch_op:
        batch_op.create_index("ix_friendships_user_hi_user_lo", ["user_hi", "user_lo"], unique=False)
        batch_op.drop_index("ix_friendships_user_hi")


def downgrade() -> None:
    with op.batch_alter_table("friendships", schema=None) as batch_op:
        batch_op.create_index("ix_friendships_user_hi", ["user_hi"], unique=False)
        batch_op.drop_index("ix_friendships_user_hi_user_lo")
