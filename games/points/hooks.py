"""Points listen for the bank's spending and for milestones other features report, and
join a member's export and erasure."""

from __future__ import annotations

from app import hooks
from app.audiences import attributes
from games.points import service as points
from games.points.service import points_for_milestone, points_for_refund, points_for_spending
from games.points.tiers import tier_condition, tier_ids

if points_for_spending not in hooks.on_spending_recorded:
    hooks.on_spending_recorded.append(points_for_spending)
if points_for_milestone not in hooks.on_milestone:
    hooks.on_milestone.append(points_for_milestone)
if points_for_refund not in hooks.on_spending_refunded:
    hooks.on_spending_refunded.append(points_for_refund)

# The erasure forfeits the member's points (``points.erase_personal_data``); the export
# of points is their ledger lines and lots.
hooks.register_personal_data("points", export=points.personal_data, erase=points.erase_personal_data)

# Audiences may target tiers ("tier at least gold") without importing this feature.
attributes.register(
    attributes.Provider(
        "tier",
        "the member's points tier (grace included), in ascending order",
        frozenset({"in", "at_least"}),
        tier_condition,
        values=tier_ids,
    )
)
