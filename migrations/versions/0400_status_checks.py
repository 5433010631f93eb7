"""Status and kind columns hold only their StrEnum's values: a CHECK constraint each
(friend requests, referrals, conversations and their members and messages, posts and
comments, moderation items and audit).

The values are written out here, not imported: a migration stays as it was written.

Revision ID: 0400
Revises: 0001
Create Date: 2026-12-02 09:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0400"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECKS = [
    ("conversation_members", "role", ("owner", "member", "advisor")),
    ("conversations", "kind", ("direct", "group")),
    ("friend_requests", "status", ("pending", "accepted", "declined", "cancelled")),
    ("messages", "kind", ("text", "image", "transfer", "red_packet", "system")),
    ("moderation_audit", "action", ("approve", "reject", "remove", "mute", "terms")),
    ("moderation_items", "status", ("open", "closed")),
    ("moderation_items", "decision", ("approve", "reject", "remove")),
    ("post_comments", "status", ("published", "pending_review", "removed", "deleted")),
    ("posts", "kind", ("post", "question", "article")),
    ("posts", "source", ("ugc", "pgc")),
    ("posts", "status", ("published", "pending_review", "removed", "deleted")),
    ("referrals", "status", ("pending", "rewarded", "capped")),
]


def upgrade() -> None:
    for table, column, values in CHECKS:
        listed = ", ".join(f"'{v}'" for v in values)
        op.create_check_constraint(op.f(f"ck_{table}_{column}_valid"), table, f"{column} IN ({listed})")


def downgrade() -> None:
    for table, column, _ in reversed(CHECKS):
        op.drop_constraint(op.f(f"ck_{table}_{column}_valid"), table, type_="check")
