"""Plug friends into the platform's hooks:

- a member's export and erasure (``register_personal_data``);
- friends and blocks decide who may see whose card (``app.hooks.person_relations``).
"""

from __future__ import annotations

from app import hooks
from app.hooks import register_personal_data
from social.friends import service as friends

register_personal_data("friends", export=friends.personal_data, erase=friends.erase_personal_data)
if friends.person_relation not in hooks.person_relations:
    hooks.person_relations.append(friends.person_relation)
