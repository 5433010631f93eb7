"""Conversation co-members may see each other's card (``app.hooks.person_relations``)."""

from __future__ import annotations

from app import hooks
from social.chat.service import person_relation

if person_relation not in hooks.person_relations:
    hooks.person_relations.append(person_relation)
