"""Plug friends into a member's export and erasure (``app.hooks.register_personal_data``)."""

from app.hooks import register_personal_data
from social.friends import service as friends

register_personal_data("friends", export=friends.personal_data, erase=friends.erase_personal_data)
