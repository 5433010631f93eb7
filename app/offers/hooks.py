"""Offers listen to partners' accepted scenario events; a member's offers join the
export and the erasure."""

from __future__ import annotations

from app import hooks
from app.offers import service as offers

hooks.on_scenario_events.append(offers.on_scenario_events)
hooks.register_personal_data("offers", export=offers.personal_data, erase=offers.erase_personal_data)
