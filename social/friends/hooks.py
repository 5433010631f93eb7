"""Plug friends into the platform's hooks:

- a member's export and erasure (``register_personal_data``);
- friends and blocks decide who may see whose card (``app.hooks.person_relations``).
"""

from __future__ import annotations

from typing import Any

from app import hooks
from app.hooks import register_personal_data
from social.friends import service as friends
from social.friends import suggestions


async def _erase(db: Any, rt: Any, user_id: str) -> None:
    await friends.erase_personal_data(db, rt, user_id)
    await suggestions.forget(db, rt, user_id)


register_personal_data("friends", export=friends.personal_data, erase=_erase)
if friends.person_relation not in hooks.person_relations:
    hooks.person_relations.append(friends.person_relation)
