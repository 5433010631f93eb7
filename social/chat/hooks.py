"""Plug chat into a member's export. An erasure leaves chat as it is: the messages a
member sent stay readable to the others, under the pseudonymised sender (``app.auth``)."""

from app.hooks import register_personal_data
from social.chat import service as chat

register_personal_data("chat", export=chat.personal_data)
