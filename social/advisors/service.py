"""Advisors (理财经理): matching clients to advisors, the client's door to their advisor,
and the advisor's view of their clients.

An advisor sees their own clients only (``access_client`` is the one check). The client
and the advisor talk in their direct conversation, opened by ``my_advisor`` although
they are not friends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import anyio
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import service as auth
from app.db import end_read, transaction
from app.errors import NotFound
from app.pagination import Chunk, decode_cursor, encode_cursor
from app.runtime import Runtime
from social.advisors import matching
from social.advisors.models import AdvisorAssignment, AdvisorProfile
from social.chat import service as chat

BATCH = 500  # clients per matching round: keeps the flow graph small
GAME_BOARDS = ("energy", "steps", "eggs")
RECENT_MESSAGES = 20


def _split(text: str) -> frozenset[str]:
    return frozenset(p for p in text.split(",") if p)


async def _advisors(db: AsyncSession, rt: Runtime) -> list[matching.Advisor]:
    """Every advisor with the room left, locking their user rows (one matcher at a time)."""
    users = await auth.lock_users_with_role(db, "advisor")
    ids = [u.id for u in users]
    profiles = {
        p.advisor_id: p
        for p in (
            await db.execute(select(AdvisorProfile).where(col(AdvisorProfile.advisor_id).in_(ids)))
        ).scalars()
    }
    loads: dict[str, int] = dict(
        (
            await db.execute(
                select(AdvisorAssignment.advisor_id, func.count())
                .where(col(AdvisorAssignment.advisor_id).in_(ids))
                .group_by(AdvisorAssignment.advisor_id)
            )
        ).all()
    )
    out = []
    for u in users:
        p = profiles.get(u.id)
        capacity = p.capacity if p else rt.settings.advisor_default_capacity
        out.append(
            matching.Advisor(
                id=u.id,
                room=max(0, capacity - int(loads.get(u.id, 0))),
                regions=_split(p.regions) if p and p.regions else frozenset({u.region} - {None}),  # type: ignore[arg-type]
                languages=_split(p.languages) if p and p.languages else frozenset({u.language}),
                risk_profiles=_split(p.risk_profiles) if p else frozenset(),
            )
        )
    return out


@dataclass(frozen=True)
class Matched:
    assigned: int
    by_advisor: dict[str, int]
    unassigned: int


async def match(db: AsyncSession, rt: Runtime) -> Matched:
    """Assign unassigned cardholders to advisors (see ``matching``); existing assignments stay.

    Locks the advisors' user rows, so two runs at once do not overfill an advisor."""
    now = rt.clock.now()
    by_advisor: dict[str, int] = {}
    async with transaction(db):
        advisors = await _advisors(db, rt)
        advisor_ids = {a.id for a in advisors}
        assigned = select(AdvisorAssignment.client_id)
        after = ""
        unassigned = 0
        while True:
            rows = await auth.cardholders_after(db, after=after, limit=BATCH, excluding=assigned)
            if not rows:
                break
            after = rows[-1].id
            clients = [
                matching.Client(id=u.id, region=u.region, language=u.language, risk_profile=u.risk_profile)
                for u in rows
                if u.id not in advisor_ids
            ]
            room = [a for a in advisors if a.room > 0]
            result = await anyio.to_thread.run_sync(matching.assign, clients, room) if room else {}
            unassigned += len(clients) - len(result)
            if result:
                values = [
                    {"client_id": cid, "advisor_id": aid, "fit": f, "assigned_at": now}
                    for cid, (aid, f) in sorted(result.items())
                ]
                await db.execute(insert(AdvisorAssignment).on_conflict_do_nothing(), values)
                taken: dict[str, int] = {}
                for aid, _ in result.values():
                    taken[aid] = taken.get(aid, 0) + 1
                    by_advisor[aid] = by_advisor.get(aid, 0) + 1
                advisors = [
                    matching.Advisor(
                        a.id, a.room - taken.get(a.id, 0), a.regions, a.languages, a.risk_profiles
                    )
                    for a in advisors
                ]
    return Matched(assigned=sum(by_advisor.values()), by_advisor=by_advisor, unassigned=unassigned)


async def set_profile(
    db: AsyncSession,
    *,
    advisor_id: str,
    capacity: int,
    regions: list[str],
    languages: list[str],
    risk_profiles: list[str],
) -> AdvisorProfile:
    """Set an advisor's capacity and fit. Raises NotFound (no such advisor)."""
    async with transaction(db):
        user = await auth.get_profile(db, advisor_id)
        if user is None or not user.has_role("advisor"):
            raise NotFound("advisor not found", advisor_id=advisor_id)
        row = await db.get(AdvisorProfile, advisor_id)
        if row is None:
            row = AdvisorProfile(advisor_id=advisor_id)
            db.add(row)
        row.capacity = capacity
        row.regions = ",".join(regions)
        row.languages = ",".join(languages)
        row.risk_profiles = ",".join(risk_profiles)
    return row


async def assign(db: AsyncSession, rt: Runtime, *, client_id: str, advisor_id: str) -> None:
    """Assign one client by hand (seed, admin tools), replacing any advisor they had."""
    async with transaction(db):
        row = await db.get(AdvisorAssignment, client_id)
        if row is None:
            db.add(
                AdvisorAssignment(
                    client_id=client_id, advisor_id=advisor_id, fit=0, assigned_at=rt.clock.now()
                )
            )
        else:
            row.advisor_id = advisor_id


@dataclass(frozen=True)
class MyAdvisor:
    advisor: auth.Profile
    conversation_id: str
    assigned_at: datetime


async def my_advisor(db: AsyncSession, rt: Runtime, *, user_id: str) -> MyAdvisor:
    """My advisor and our direct conversation (opened now if new). Raises NotFound."""
    async with transaction(db):
        row = await db.get(AdvisorAssignment, user_id)
        advisor = await auth.get_profile(db, row.advisor_id) if row else None
        if row is None or advisor is None:
            raise NotFound("no advisor is assigned to you yet")
        conv = await chat.get_or_create_direct(db, rt, user_id, advisor.id)
        await chat.set_member_role(
            db, conversation_id=conv.id, user_id=advisor.id, role=chat.MemberRole.ADVISOR
        )
        return MyAdvisor(advisor=advisor, conversation_id=conv.id, assigned_at=row.assigned_at)


@dataclass
class MessageCounts:
    total: int = 0
    from_client: int = 0
    from_advisor: int = 0
    last_at: datetime | None = None


@dataclass(frozen=True)
class Client:
    """One of an advisor's clients with an engagement summary."""

    profile: auth.Profile
    assigned_at: datetime
    last_active_at: datetime | None  # in the app, or their latest message to the advisor
    conversation_id: str | None
    messages: MessageCounts
    game: dict[str, float] | None  # all-time leaderboard totals, where present
    recent_messages: Sequence[chat.StoredMessage] = ()


async def _summaries(
    db: AsyncSession, rt: Runtime, advisor_id: str, rows: list[tuple[auth.Profile, AdvisorAssignment]]
) -> list[Client]:
    conv_of = await chat.direct_conversations(db, advisor_id, [u.id for u, _ in rows])
    counts: dict[str, MessageCounts] = {}
    for s in await chat.sender_counts(db, list(conv_of.values())):
        c = counts.setdefault(s.conversation_id, MessageCounts())
        c.total += s.messages
        if s.sender_id == advisor_id:
            c.from_advisor += s.messages
        elif s.sender_id is not None:
            c.from_client += s.messages
        if s.last_at is not None and (c.last_at is None or s.last_at > c.last_at):
            c.last_at = s.last_at
    games = await _game_activity(rt, [u.id for u, _ in rows])
    out = []
    for u, a in rows:
        cid = conv_of.get(u.id)
        msgs = counts.get(cid, MessageCounts()) if cid else MessageCounts()
        seen = [t for t in (u.last_active_at, msgs.last_at if msgs.from_client else None) if t is not None]
        out.append(
            Client(
                profile=u,
                assigned_at=a.assigned_at,
                last_active_at=max(seen) if seen else None,
                conversation_id=cid,
                messages=msgs,
                game=games.get(u.id),
            )
        )
    return out


async def _game_activity(rt: Runtime, user_ids: list[str]) -> dict[str, dict[str, float]]:
    """All-time leaderboard totals from Redis (``games.leaderboards.scores``), where present."""
    if not user_ids:
        return {}
    async with rt.redis.pipeline(transaction=False) as pipe:
        for board in GAME_BOARDS:
            pipe.zmscore(rt.keys("lb", board, "all", "all"), user_ids)
        results = await pipe.execute()
    out: dict[str, dict[str, float]] = {}
    for board, scores in zip(GAME_BOARDS, results, strict=True):
        for uid, score in zip(user_ids, scores or [], strict=False):
            if score is not None:
                out.setdefault(uid, {})[board] = float(score)
    return out


async def clients(
    db: AsyncSession, rt: Runtime, *, advisor_id: str, limit: int, cursor: str | None
) -> Chunk[Client]:
    """My clients (an advisor's), with an engagement summary, by user id."""
    after = decode_cursor(cursor)
    q = select(AdvisorAssignment).where(AdvisorAssignment.advisor_id == advisor_id)
    if after is not None:
        q = q.where(AdvisorAssignment.client_id > str(after))
    found = list((await db.execute(q.order_by(AdvisorAssignment.client_id).limit(limit + 1))).scalars())
    more = len(found) > limit
    people = await auth.profiles(db, [a.client_id for a in found[:limit]])
    rows = [(people[a.client_id], a) for a in found[:limit] if a.client_id in people]
    items = await _summaries(db, rt, advisor_id, rows)
    await end_read(db)
    return Chunk(items, next_cursor=encode_cursor(rows[-1][0].id) if more else None)


async def access_client(
    db: AsyncSession, *, advisor_id: str, client_id: str
) -> tuple[auth.Profile, AdvisorAssignment]:
    """The client and assignment, if ``client_id`` is this advisor's client. Raises NotFound."""
    assignment = await db.get(AdvisorAssignment, client_id)
    user = await auth.get_profile(db, client_id) if assignment is not None else None
    if assignment is None or assignment.advisor_id != advisor_id or user is None:
        raise NotFound("client not found", client_id=client_id)
    return user, assignment


async def client_detail(db: AsyncSession, rt: Runtime, *, advisor_id: str, client_id: str) -> Client:
    """One of my clients: the summary and our latest messages. Raises NotFound."""
    user, assignment = await access_client(db, advisor_id=advisor_id, client_id=client_id)
    [summary] = await _summaries(db, rt, advisor_id, [(user, assignment)])
    if summary.conversation_id:
        recent = await chat.latest_messages(db, summary.conversation_id, limit=RECENT_MESSAGES)
        summary = replace(summary, recent_messages=recent)
    await end_read(db)
    return summary
