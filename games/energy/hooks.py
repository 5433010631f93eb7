"""The energy engine listens for the bank's spending (``app.hooks.on_spending_recorded``)
and serves the ``steps`` leaderboard."""

from __future__ import annotations

from app import hooks
from games.energy import service as energy_service
from games.energy.board import rebuild_steps
from games.energy.service import energy_for_spending
from games.leaderboards.registry import register_board

register_board("steps", rebuild=rebuild_steps)

if energy_for_spending not in hooks.on_spending_recorded:
    hooks.on_spending_recorded.append(energy_for_spending)

hooks.register_personal_data(
    "energy", export=energy_service.personal_data, erase=energy_service.erase_personal_data
)
