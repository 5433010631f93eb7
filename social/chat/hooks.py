"""Plug chat into the platform's hooks:

- a member's export (``register_personal_data``). An erasure leaves chat as it is: the
  messages a member sent stay readable to the others, under the pseudonymised sender
  (``app.auth``);
- conversation co-members may see each other's card (``app.hooks.person_relations``).
"""

from __future__ import annotations

from app import hooks
from app.hooks import register_personal_data
from content.products import service as products
from social.chat import service as chat

register_personal_data("chat", export=chat.personal_data)
if chat.person_relation not in hooks.person_relations:
    hooks.person_relations.append(chat.person_relation)

# A tap on a product card in a chat message is attributed to the message's sender.
products.register_context("message", chat.product_message)
