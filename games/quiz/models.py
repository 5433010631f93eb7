"""Quiz answers: one per user per business day, by primary key."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.dbtypes import at_field


class QuizAnswer(SQLModel, table=True):
    __tablename__ = "quiz_answers"

    user_id: str = Field(primary_key=True, foreign_key="users.id", max_length=40)
    day: str = Field(primary_key=True, max_length=10)
    question_id: str = Field(max_length=16)
    choice: int
    correct: bool
    reward_g: int
    answered_at: datetime = at_field()
