"""Transfers in a member's data: their export lists the transfers they sent or received;
their erasure refunds every transfer still pending to or from them now (to its sender),
instead of leaving it to expire into a closed wallet."""

from __future__ import annotations

from app.hooks import register_personal_data
from social.transfers import service as transfers

register_personal_data("transfers", export=transfers.personal_data, erase=transfers.refund_for_erasure)
