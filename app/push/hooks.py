"""Push devices and settings in a member's data: exported, and deleted by the erasure."""

from __future__ import annotations

from app.hooks import register_personal_data
from app.push import service as push

register_personal_data("push", export=push.personal_data, erase=push.erase_personal_data)
