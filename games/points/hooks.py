"""Points listen for the bank's spending and for milestones other features report."""

from __future__ import annotations

from app import hooks
from games.points.service import points_for_milestone, points_for_spending

if points_for_spending not in hooks.on_spending_recorded:
    hooks.on_spending_recorded.append(points_for_spending)
if points_for_milestone not in hooks.on_milestone:
    hooks.on_milestone.append(points_for_milestone)
