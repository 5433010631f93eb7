"""Points (#16): refunds lower the tier total; partners may cancel an exchange.

- ``points_lots.reversed_points``: what refunds took back of the lot's earning; the tier
  counts ``amount - reversed_points`` (on the day the lot was earned).
- ``points_spending.lot_id``: the lot a spending event's points went into (several events
  of one batch share a lot); filled for the events whose lot carries their own id.
- ``points_exchanges``: status ``cancelled`` (the partner reversed it on their side),
  with the partner's reference for the cancellation, when, and the status it left.

Revision ID: 2000
Revises: 1901
Create Date: 2026-12-07 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.dbtypes

revision: str = "2000"
down_revision: str | Sequence[str] | None = "1901"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "points_lots", sa.Column("reversed_points", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.create_check_constraint(
        op.f("ck_points_lots_reversed_within_amount"),
        "points_lots",
        "reversed_points >= 0 AND reversed_points <= amount",
    )
    op.add_column("points_spending", sa.Column("lot_id", sa.String(length=40), nullable=True))
    op.execute(
        """
        UPDATE points_spending s SET lot_id = l.id
        FROM points_lots l
        WHERE l.user_id = s.user_id AND l.ref = 'spending:' || s.event_id
        """
    )
    # Refunds already taken back count against their lot's tier total from now on.
    op.execute(
        """
        UPDATE points_lots l SET reversed_points = LEAST(l.amount, r.n)
        FROM (SELECT lot_id, sum(reversed_points) AS n FROM points_spending
              WHERE lot_id IS NOT NULL GROUP BY lot_id) r
        WHERE l.id = r.lot_id
        """
    )
    op.drop_constraint(op.f("ck_points_exchanges_status_valid"), "points_exchanges", type_="check")
    op.create_check_constraint(
        op.f("ck_points_exchanges_status_valid"),
        "points_exchanges",
        "status IN ('pending', 'confirmed', 'refused', 'cancelled')",
    )
    op.add_column("points_exchanges", sa.Column("cancel_ref", sa.String(length=64), nullable=True))
    op.add_column("points_exchanges", sa.Column("cancelled_from", sa.String(length=16), nullable=True))
    op.add_column(
        "points_exchanges",
        sa.Column("cancelled_at", app.dbtypes.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("points_exchanges", "cancelled_at")
    op.drop_column("points_exchanges", "cancelled_from")
    op.drop_column("points_exchanges", "cancel_ref")
    op.drop_constraint(op.f("ck_points_exchanges_status_valid"), "points_exchanges", type_="check")
    op.create_check_constraint(
        op.f("ck_points_exchanges_status_valid"),
        "points_exchanges",
        "status IN ('pending', 'confirmed', 'refused')",
    )
    op.drop_column("points_spending", "lot_id")
    op.drop_constraint(op.f("ck_points_lots_reversed_within_amount"), "points_lots", type_="check")
    op.drop_column("points_lots", "reversed_points")
