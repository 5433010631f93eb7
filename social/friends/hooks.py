"""Friends and blocks decide who may see whose card (``app.hooks.person_relations``)."""

from __future__ import annotations

from app import hooks
from social.friends.service import person_relation

if person_relation not in hooks.person_relations:
    hooks.person_relations.append(person_relation)
