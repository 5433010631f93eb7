"""An advisor and their client may see each other's card (``app.hooks.person_relations``)."""

from __future__ import annotations

from app import hooks
from social.advisors.service import person_relation

if person_relation not in hooks.person_relations:
    hooks.person_relations.append(person_relation)
