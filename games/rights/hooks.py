"""Rights in a member's export (``GET /v1/me/export``): their vouchers. An erasure keeps
them (a merchant may still redeem a voucher; the ledger keeps what was paid)."""

from __future__ import annotations

from app.hooks import register_personal_data
from games.rights.service import export

register_personal_data("rights", export=export)
