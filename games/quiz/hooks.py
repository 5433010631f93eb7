"""Quiz answers in a member's data: exported, and deleted by the erasure."""

from __future__ import annotations

from app.hooks import register_personal_data
from games.quiz import service as quiz

register_personal_data("quiz", export=quiz.personal_data, erase=quiz.erase_personal_data)
