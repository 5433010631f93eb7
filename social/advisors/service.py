"""Advisors (理财经理): matching clients to advisors, the client's door to their advisor,
and the advisor's view of their clients.

An advisor sees their own clients only (``access_client`` is the one check). The client
and the advisor talk in their direct conversation, opened by ``my_advisor`` although
they are not friends.
"""

from __future__ import annotations

import anyio
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.models import User
from app.auth.schemas import UserPublic
from app.db import end_read, transaction
from app.errors import NotFound
from app.pagination import Page, decode_cursor, encode_cursor
from app.runtime import Runtime
from social.advisors import matching
from social.advisors.models import AdvisorAssignment, AdvisorProfile
from social.advisors.schemas import (
    AdvisorProfileIn,
    AdvisorProfilePublic,
    ChatLine,
    ClientDetail,
    ClientSummary,
    MatchResult,
    MessageCounts,
    MyAdvisorPublic,
)
from social.chat import service as chat
from social.chat.models import Conversation, ConversationMember, Message
from social.friends.service import pair

BATCH = 500  # clients per matching round: keeps the flow graph small
GAME_BOARDS = ("energy", "steps", "eggs")


def _split(text: str) -> frozenset[str]:
    return frozenset(p for p in text.split(",") if p)


async def _advisors(db: AsyncSession, rt: Runtime) -> list[matching.Advisor]:
    """Every advisor with the room left, locking their user rows (one matcher at a time)."""
    users = (
        (
            await db.execute(
                select(User).where(col(User.roles).contains("advisor")).order_by(User.id).with_for_update()
            )
        )
        .scalars()
        .all()
    )
    users = [u for u in users if u.has_role("advisor")]
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


async def match(db: AsyncSession, rt: Runtime) -> MatchResult:
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
            rows = (
                (
                    await db.execute(
                        select(User)
                        .where(
                            col(User.is_cardholder).is_(True),
                            col(User.id).not_in(assigned),
                            User.id > after,
                        )
                        .order_by(User.id)
                        .limit(BATCH)
                    )
                )
                .scalars()
                .all()
            )
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
    return MatchResult(assigned=sum(by_advisor.values()), by_advisor=by_advisor, unassigned=unassigned)


async def set_profile(
    db: AsyncSession, *, advisor_id: str, profile: AdvisorProfileIn
) -> AdvisorProfilePublic:
    """Set an advisor's capacity and fit. Raises NotFound (no such advisor)."""
    async with transaction(db):
        user = await db.get(User, advisor_id)
        if user is None or not user.has_role("advisor"):
            raise NotFound("advisor not found", advisor_id=advisor_id)
        row = await db.get(AdvisorProfile, advisor_id)
        if row is None:
            row = AdvisorProfile(advisor_id=advisor_id)
            db.add(row)
        row.capacity = profile.capacity
        row.regions = ",".join(profile.regions)
        row.languages = ",".join(profile.languages)
        row.risk_profiles = ",".join(profile.risk_profiles)
    return AdvisorProfilePublic(advisor_id=advisor_id, **profile.model_dump())


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


async def my_advisor(db: AsyncSession, rt: Runtime, *, user_id: str) -> MyAdvisorPublic:
    """My advisor and our direct conversation (opened now if new). Raises NotFound."""
    async with transaction(db):
        row = await db.get(AdvisorAssignment, user_id)
        advisor = await db.get(User, row.advisor_id) if row else None
        if row is None or advisor is None:
            raise NotFound("no advisor is assigned to you yet")
        conv = await chat.get_or_create_direct(db, rt, user_id, advisor.id)
        await db.execute(
            update(ConversationMember)
            .where(ConversationMember.conversation_id == conv.id, ConversationMember.user_id == advisor.id)
            .values(role="advisor")
        )
        return MyAdvisorPublic(
            advisor=UserPublic(
                id=advisor.id, display_name=advisor.display_name, avatar_url=advisor.avatar_url
            ),
            conversation_id=conv.id,
            assigned_at=row.assigned_at,
        )


def _direct_key(a: str, b: str) -> str:
    lo, hi = pair(a, b)
    return f"{lo}|{hi}"


async def _summaries(
    db: AsyncSession, rt: Runtime, advisor_id: str, rows: list[tuple[User, AdvisorAssignment]]
) -> list[ClientSummary]:
    keys = {_direct_key(advisor_id, u.id): u.id for u, _ in rows}
    convs: dict[str, str] = dict(
        (
            await db.execute(
                select(Conversation.direct_key, Conversation.id).where(col(Conversation.direct_key).in_(keys))
            )
        ).all()
    )
    conv_of = {keys[k]: cid for k, cid in convs.items()}
    counts: dict[str, MessageCounts] = {}
    if convs:
        stats = await db.execute(
            select(Message.conversation_id, Message.sender_id, func.count(), func.max(Message.created_at))
            .where(col(Message.conversation_id).in_(list(convs.values())))
            .group_by(Message.conversation_id, Message.sender_id)
        )
        for cid, sender, n, last in stats.all():
            c = counts.setdefault(cid, MessageCounts())
            c.total += int(n)
            if sender == advisor_id:
                c.from_advisor += int(n)
            elif sender is not None:
                c.from_client += int(n)
            if last is not None and (c.last_at is None or last > c.last_at):
                c.last_at = last
    games = await _game_activity(rt, [u.id for u, _ in rows])
    out = []
    for u, a in rows:
        cid = conv_of.get(u.id)
        msgs = counts.get(cid, MessageCounts()) if cid else MessageCounts()
        seen = [t for t in (u.last_active_at, msgs.last_at if msgs.from_client else None) if t is not None]
        out.append(
            ClientSummary(
                user_id=u.id,
                display_name=u.display_name,
                avatar_url=u.avatar_url,
                is_cardholder=u.is_cardholder,
                region=u.region,
                risk_profile=u.risk_profile,
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
) -> Page[ClientSummary]:
    """My clients (an advisor's), with an engagement summary, by user id."""
    after = decode_cursor(cursor)
    q = (
        select(User, AdvisorAssignment)
        .join(AdvisorAssignment, AdvisorAssignment.client_id == User.id)
        .where(AdvisorAssignment.advisor_id == advisor_id)
    )
    if after is not None:
        q = q.where(User.id > str(after))
    rows = [(u, a) for u, a in (await db.execute(q.order_by(User.id).limit(limit + 1))).all()]
    more = len(rows) > limit
    rows = rows[:limit]
    items = await _summaries(db, rt, advisor_id, rows)
    await end_read(db)
    return Page[ClientSummary](items=items, next_cursor=encode_cursor(rows[-1][0].id) if more else None)


async def access_client(
    db: AsyncSession, *, advisor_id: str, client_id: str
) -> tuple[User, AdvisorAssignment]:
    """The client and assignment, if ``client_id`` is this advisor's client. Raises NotFound."""
    row = (
        await db.execute(
            select(User, AdvisorAssignment)
            .join(AdvisorAssignment, AdvisorAssignment.client_id == User.id)
            .where(AdvisorAssignment.advisor_id == advisor_id, User.id == client_id)
        )
    ).first()
    if row is None:
        raise NotFound("client not found", client_id=client_id)
    return row[0], row[1]


async def client_detail(db: AsyncSession, rt: Runtime, *, advisor_id: str, client_id: str) -> ClientDetail:
    """One of my clients: the summary and our latest messages. Raises NotFound."""
    user, assignment = await access_client(db, advisor_id=advisor_id, client_id=client_id)
    [summary] = await _summaries(db, rt, advisor_id, [(user, assignment)])
    recent: list[ChatLine] = []
    if summary.conversation_id:
        msgs = (
            (
                await db.execute(
                    select(Message)
                    .where(Message.conversation_id == summary.conversation_id)
                    .order_by(col(Message.seq).desc())
                    .limit(20)
                )
            )
            .scalars()
            .all()
        )
        recent = [
            ChatLine(seq=m.seq, sender_id=m.sender_id, kind=m.kind, body=m.body, created_at=m.created_at)
            for m in reversed(msgs)
        ]
    await end_read(db)
    return ClientDetail(**summary.model_dump(), recent_messages=recent)
