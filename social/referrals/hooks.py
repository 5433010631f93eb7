"""Referrals react to a referee's first card (``app.hooks.on_first_card``)."""

from __future__ import annotations

from app import hooks
from social.referrals.service import reward_referrer

if reward_referrer not in hooks.on_first_card:
    hooks.on_first_card.append(reward_referrer)
