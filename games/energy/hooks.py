"""The energy engine listens for the bank's spending (``app.hooks.on_spending_recorded``)."""

from __future__ import annotations

from app import hooks
from games.energy.service import energy_for_spending

if energy_for_spending not in hooks.on_spending_recorded:
    hooks.on_spending_recorded.append(energy_for_spending)
