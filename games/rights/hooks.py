"""Rights in a member's export (``GET /v1/me/export``): their vouchers. An erasure expires
the ones not used yet; the vouchers stay, pseudonymised (the merchants' record; the
ledger keeps what was paid)."""

from __future__ import annotations

from app.hooks import register_personal_data
from games.rights.service import erase_personal_data, export

register_personal_data("rights", export=export, erase=erase_personal_data)
