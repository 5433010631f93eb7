"""Plug audiences into the platform: members' tag changes re-evaluate them; their
memberships join the export and the erasure."""

from __future__ import annotations

from app import hooks
from app.audiences import service as audiences

hooks.on_tags_changed.append(audiences.tags_changed)
hooks.register_personal_data("audiences", export=audiences.personal_data, erase=audiences.erase_personal_data)
