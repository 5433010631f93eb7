"""The daily quiz: one question per user per business day, rewarded with farm feed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import hooks
from app.db import is_unique_violation, transaction
from app.errors import AlreadyClaimed, ValidationFailed
from app.profile import service as profile
from app.runtime import Runtime
from games.farm import service as farm
from games.quiz.models import QuizAnswer
from games.quiz.questions import QUESTIONS, Q
from games.rules import rules

WHY_ANSWERED = "you answered the farm quiz {count} times"  # game activity, for the profile


def question_for(user_id: str, day: str) -> Q:
    """The user's question for a business day: deterministic, spread over the bank."""
    digest = hashlib.sha256(f"quiz:{user_id}:{day}".encode()).digest()
    return QUESTIONS[int.from_bytes(digest[:8], "big") % len(QUESTIONS)]


@dataclass(frozen=True)
class Today:
    day: str
    question_id: str
    question: str
    choices: list[str]
    reward_g: int  # for a right answer
    mine: QuizAnswer | None = None
    # Shown once I answered:
    answer: int | None = None
    explanation: str | None = None


async def today(db: AsyncSession, rt: Runtime, *, user_id: str) -> Today:
    """Today's question, and my answer with the explanation if I answered."""
    day = rt.clock.today().isoformat()
    qid, text, choices, right, explanation = question_for(user_id, day)
    out = Today(day, qid, text, list(choices), rules().farm.quiz_reward_g)
    done = await db.get(QuizAnswer, (user_id, day))
    return out if done is None else replace(out, mine=done, answer=right, explanation=explanation)


@dataclass(frozen=True)
class Answered:
    correct: bool
    reward_g: int
    answer: int  # the right choice
    explanation: str


async def _right_in_a_row(db: AsyncSession, *, user_id: str, day: date) -> int:
    """Right answers on consecutive business days ending on ``day`` (at most a year back)."""
    since = (day - timedelta(days=366)).isoformat()
    rows = await db.execute(
        select(QuizAnswer.day, QuizAnswer.correct)
        .where(QuizAnswer.user_id == user_id, QuizAnswer.day >= since)
        .order_by(QuizAnswer.day.desc())  # type: ignore[attr-defined]
    )
    streak, expect = 0, day
    for d, correct in rows.all():
        if d != expect.isoformat() or not correct:
            break
        streak += 1
        expect -= timedelta(days=1)
    return streak


async def answer(db: AsyncSession, rt: Runtime, *, user_id: str, choice: int) -> Answered:
    """Answer today's question once; a right answer earns feed. Raises ValidationFailed, AlreadyClaimed."""
    now = rt.clock.now()
    day = rt.clock.local(now).date().isoformat()
    qid, _, choices, right, explanation = question_for(user_id, day)
    if not 0 <= choice < len(choices):
        raise ValidationFailed("no such choice", field="choice", choices=len(choices))
    correct = choice == right
    reward = rules().farm.quiz_reward_g if correct else 0
    try:
        async with transaction(db):
            db.add(
                QuizAnswer(
                    user_id=user_id,
                    day=day,
                    question_id=qid,
                    choice=choice,
                    correct=correct,
                    reward_g=reward,
                    answered_at=now,
                )
            )
            await db.flush()
            if reward:
                await farm.add_feed(db, rt, user_id=user_id, grams=reward)
            await profile.record(
                db, rt, [profile.Evidence(user_id, "game:farm_quiz", "games", "answered", WHY_ANSWERED, now)]
            )
            if correct:
                streak = await _right_in_a_row(db, user_id=user_id, day=rt.clock.local(now).date())
                await hooks.fire_milestone(
                    db, rt, hooks.Milestone(user_id=user_id, kind="quiz_streak", ref=day, count=streak)
                )
    except IntegrityError as exc:
        if is_unique_violation(exc, "pk_quiz_answers"):
            raise AlreadyClaimed("today's question is answered") from exc
        raise
    return Answered(correct=correct, reward_g=reward, answer=right, explanation=explanation)


# -- a member's data (app/profile) --------------------------------------------------------


async def personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> dict[str, Any]:
    """The member's quiz answers (their export's ``quiz`` section)."""
    rows = (
        await db.execute(
            select(QuizAnswer).where(col(QuizAnswer.user_id) == user_id).order_by(col(QuizAnswer.day))
        )
    ).scalars()
    return {
        "answers": [
            {"day": a.day, "question_id": a.question_id, "choice": a.choice, "correct": a.correct}
            for a in rows
        ]
    }


async def erase_personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> None:
    """An erased member's quiz answers are deleted."""
    await db.execute(delete(QuizAnswer).where(col(QuizAnswer.user_id) == user_id))
