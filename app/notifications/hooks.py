"""The message centre in a member's data: exported, and deleted by the erasure."""

from __future__ import annotations

from app.hooks import register_personal_data
from app.notifications import service as notifications

register_personal_data(
    "notifications", export=notifications.personal_data, erase=notifications.erase_personal_data
)
