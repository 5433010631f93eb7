"""Address-book matches in a member's data: exported, and deleted both ways by the erasure."""

from __future__ import annotations

from app.hooks import register_personal_data
from social.contacts import service as contacts

register_personal_data("contacts", export=contacts.personal_data, erase=contacts.erase_personal_data)
