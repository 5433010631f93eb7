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
from typing import Any

import anyio
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import service as auth
from app.db import end_read, transaction
from app.errors import LimitExceeded, NotFound, ValidationFailed
from app.ids import new_id
from app.pagination import (
    ID_CURSOR,
    OFFSET_CURSOR,
    TIME_ID_CURSOR,
    Chunk,
    OffsetPosition,
    decode_cursor,
    encode_cursor,
)
from app.profile import service as profile
from app.profile.schemas import ProfilePublic
from app.redis import hash_tag
from app.runtime import Runtime
from content.posts import service as posts
from content.products import service as products
from games.forest import service as forest
from social.advisors import matching
from social.advisors.models import AdvisorAssignment, AdvisorNote, AdvisorProfile
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
        conv_id = await _open_direct(db, rt, client_id=user_id, advisor_id=advisor.id)
        return MyAdvisor(advisor=advisor, conversation_id=conv_id, assigned_at=row.assigned_at)


async def _open_direct(db: AsyncSession, rt: Runtime, *, client_id: str, advisor_id: str) -> str:
    """The client's direct conversation with their advisor (opened now if new), in which the
    advisor is marked as such; in the caller's transaction."""
    conv = await chat.get_or_create_direct(db, rt, client_id, advisor_id)
    await chat.set_member_role(db, conversation_id=conv.id, user_id=advisor_id, role=chat.MemberRole.ADVISOR)
    return conv.id


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
    client_last: dict[str, datetime] = {}  # conversation → the client's own latest message
    for s in await chat.sender_counts(db, list(conv_of.values())):
        c = counts.setdefault(s.conversation_id, MessageCounts())
        c.total += s.messages
        if s.sender_id == advisor_id:
            c.from_advisor += s.messages
        elif s.sender_id is not None:
            c.from_client += s.messages
            if s.last_at is not None:
                client_last[s.conversation_id] = s.last_at
        if s.last_at is not None and (c.last_at is None or s.last_at > c.last_at):
            c.last_at = s.last_at
    games = await _game_activity(rt, [u.id for u, _ in rows])
    out = []
    for u, a in rows:
        cid = conv_of.get(u.id)
        msgs = counts.get(cid, MessageCounts()) if cid else MessageCounts()
        seen = [t for t in (u.last_active_at, client_last.get(cid) if cid else None) if t is not None]
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
            pipe.zmscore(rt.keys("lb", hash_tag(board), "all", "all"), user_ids)
        results = await pipe.execute()
    out: dict[str, dict[str, float]] = {}
    for board, scores in zip(GAME_BOARDS, results, strict=True):
        for uid, score in zip(user_ids, scores or [], strict=False):
            if score is not None:
                out.setdefault(uid, {})[board] = float(score)
    return out


CLIENT_SORTS = ("id", "name", "last_active", "assigned")


async def clients(
    db: AsyncSession,
    rt: Runtime,
    *,
    advisor_id: str,
    limit: int,
    cursor: str | None,
    q: str | None = None,
    risk_profile: str | None = None,
    region: str | None = None,
    sort: str = "id",
) -> Chunk[Client]:
    """My clients (an advisor's), with an engagement summary: found by name or phone
    (the last four digits, or the whole number), filtered by risk profile and region,
    by id or sorted by name, last activity (latest first) or assignment (newest first).
    Raises ValidationFailed (unknown sort, bad cursor)."""
    if sort not in CLIENT_SORTS:
        raise ValidationFailed("unknown sort", field="sort", sorts=list(CLIENT_SORTS))
    people = auth.profiles_sql()
    query = (
        select(AdvisorAssignment)
        .join(people, people.c.id == AdvisorAssignment.client_id)
        .where(AdvisorAssignment.advisor_id == advisor_id)
    )
    if q and q.strip():
        query = query.where(col(AdvisorAssignment.client_id).in_(auth.search_users_sql(rt, q)))
    if risk_profile:
        query = query.where(people.c.risk_profile == risk_profile)
    if region:
        query = query.where(people.c.region == region)
    offset = 0
    if sort == "id":
        after = decode_cursor(cursor, ID_CURSOR)
        if after is not None:
            query = query.where(AdvisorAssignment.client_id > after)
        query = query.order_by(AdvisorAssignment.client_id)
    else:
        # A sorted list pages by position: an advisor's clients are a few hundred at most.
        position = decode_cursor(cursor, OFFSET_CURSOR)
        offset = position.o if position is not None else 0
        last_active = func.greatest(people.c.last_active_at, chat.last_sent_sql(people.c.id, advisor_id))
        orders: dict[str, list[Any]] = {
            "name": [people.c.display_name, people.c.id],
            "last_active": [last_active.desc().nulls_last(), people.c.id],
            "assigned": [col(AdvisorAssignment.assigned_at).desc(), people.c.id],
        }
        query = query.order_by(*orders[sort]).offset(offset)
    found = list((await db.execute(query.limit(limit + 1))).scalars())
    more = len(found) > limit
    profiles = await auth.profiles(db, [a.client_id for a in found[:limit]])
    rows = [(profiles[a.client_id], a) for a in found[:limit] if a.client_id in profiles]
    items = await _summaries(db, rt, advisor_id, rows)
    await end_read(db)
    next_cursor = None
    if more and rows:
        next_cursor = (
            encode_cursor(rows[-1][0].id) if sort == "id" else encode_cursor(OffsetPosition(o=offset + limit))
        )
    return Chunk(items, next_cursor=next_cursor)


async def person_relation(db: AsyncSession, viewer_id: str, user_id: str) -> bool | None:
    """``app.hooks.person_relations``: True between an advisor and their client (either way)."""
    a = AdvisorAssignment
    found = await db.scalar(
        select(a.client_id).where(
            ((a.client_id == viewer_id) & (a.advisor_id == user_id))
            | ((a.client_id == user_id) & (a.advisor_id == viewer_id))
        )
    )
    return True if found is not None else None


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


# --- the advisor's workbench: notes, inbox, chat, products, activity ---------------------------


@dataclass(frozen=True)
class Note:
    id: str
    client_id: str
    advisor_id: str
    advisor_name: str | None
    text: str
    created_at: datetime


def _note(n: AdvisorNote, names: dict[str, auth.Profile]) -> Note:
    who = names.get(n.advisor_id)
    return Note(n.id, n.client_id, n.advisor_id, who.display_name if who else None, n.text, n.created_at)


async def add_note(db: AsyncSession, rt: Runtime, *, advisor_id: str, client_id: str, text: str) -> Note:
    """Keep a note on one of my clients (never shown to the client). Raises NotFound, ValidationFailed."""
    if not text.strip():
        raise ValidationFailed("a note must not be blank", field="text")
    async with transaction(db):
        await access_client(db, advisor_id=advisor_id, client_id=client_id)
        note = AdvisorNote(
            id=new_id("an_"),
            client_id=client_id,
            advisor_id=advisor_id,
            text=text.strip(),
            created_at=rt.clock.now(),
        )
        db.add(note)
        names = await auth.profiles(db, [advisor_id])
    return _note(note, names)


async def notes(
    db: AsyncSession, *, advisor_id: str, client_id: str, limit: int, cursor: str | None
) -> Chunk[Note]:
    """The notes on one of my clients (kept by any advisor of theirs), newest first. Raises NotFound."""
    await access_client(db, advisor_id=advisor_id, client_id=client_id)
    before = decode_cursor(cursor, ID_CURSOR)
    q = select(AdvisorNote).where(AdvisorNote.client_id == client_id)
    if before is not None:
        q = q.where(AdvisorNote.id < str(before))
    rows = list((await db.execute(q.order_by(col(AdvisorNote.id).desc()).limit(limit + 1))).scalars())
    names = await auth.profiles(db, {n.advisor_id for n in rows[:limit]})
    await end_read(db)
    return Chunk(
        [_note(n, names) for n in rows[:limit]],
        next_cursor=encode_cursor(rows[limit - 1].id) if len(rows) > limit else None,
    )


async def client_conversation(db: AsyncSession, rt: Runtime, *, advisor_id: str, client_id: str) -> str:
    """The id of my direct conversation with one of my clients (opened now if new). Raises NotFound."""
    async with transaction(db):
        await access_client(db, advisor_id=advisor_id, client_id=client_id)
        return await _open_direct(db, rt, client_id=client_id, advisor_id=advisor_id)


@dataclass(frozen=True)
class InboxItem:
    client_id: str
    display_name: str
    conversation_id: str
    unread_count: int
    last_seq: int
    last_message_at: datetime | None


@dataclass(frozen=True)
class Inbox:
    items: list[InboxItem]
    total_unread: int


async def inbox(db: AsyncSession, *, advisor_id: str) -> Inbox:
    """My clients' conversations with messages I have not read, most recent first."""
    ids = list(
        (
            await db.execute(
                select(AdvisorAssignment.client_id).where(AdvisorAssignment.advisor_id == advisor_id)
            )
        ).scalars()
    )
    states = await chat.direct_states(db, user_id=advisor_id, peer_ids=ids)
    unread = {peer: st for peer, st in states.items() if st.unread > 0}
    names = await auth.profiles(db, list(unread))
    await end_read(db)
    items = [
        InboxItem(
            peer, names[peer].display_name, st.conversation_id, st.unread, st.last_seq, st.last_message_at
        )
        for peer, st in unread.items()
        if peer in names
    ]
    items.sort(key=lambda i: (i.last_message_at is not None, i.last_message_at), reverse=True)
    return Inbox(items=items, total_unread=sum(i.unread_count for i in items))


@dataclass(frozen=True)
class Shared:
    conversation_id: str
    seq: int
    message_id: str


async def share_product(
    db: AsyncSession, rt: Runtime, *, advisor_id: str, client_id: str, product_id: str
) -> Shared:
    """Post a product of the catalogue, by id, into my chat with one of my clients (kind
    ``product``): the body is the card rendered from the catalogue. A product above the
    client's risk profile is refused (适当性: an advisor does not recommend it). Raises
    NotFound, ValidationFailed (unknown or withdrawn product; ``reason: unsuitable``)."""
    async with transaction(db):
        await access_client(db, advisor_id=advisor_id, client_id=client_id)
        found = await products.products_by_id(db, [product_id])
        client = (await auth.profiles(db, [client_id])).get(client_id)
        risk = client.risk_profile if client else None
        card = products.card(found.get(product_id), product_id, risk)
        if not card.available:
            if card.unavailable_reason == "risk_profile":
                raise ValidationFailed(
                    "this product is above the client's risk profile",
                    field="product_id",
                    reason="unsuitable",
                )
            raise ValidationFailed(
                "no such product in the catalogue", field="product_id", reason="unknown_product"
            )
        conv_id = await _open_direct(db, rt, client_id=client_id, advisor_id=advisor_id)
        msg = await chat.post_message(
            db,
            rt,
            conversation_id=conv_id,
            sender_id=advisor_id,
            kind=chat.MessageKind.PRODUCT,
            body=card.model_dump(exclude_none=True),
        )
    return Shared(conversation_id=conv_id, seq=msg.seq, message_id=msg.id)


@dataclass(frozen=True)
class PostEvent:
    id: str
    kind: str
    title: str | None
    excerpt: str
    status: str
    like_count: int
    comment_count: int
    created_at: datetime


@dataclass(frozen=True)
class Activity:
    game: list[dict[str, Any]]  # {at, kind, grams, detail}
    posts: list[PostEvent]


async def client_activity(db: AsyncSession, *, advisor_id: str, client_id: str, limit: int = 10) -> Activity:
    """One of my clients' latest game and content activity. Raises NotFound."""
    await access_client(db, advisor_id=advisor_id, client_id=client_id)
    game = await forest.recent_activity(db, user_id=client_id, limit=limit)
    recent = await posts.recent_by_author(db, author_id=client_id, limit=limit)
    await end_read(db)
    return Activity(
        game=game,
        posts=[
            PostEvent(
                p.id,
                str(p.kind),
                p.title,
                p.text[:80],
                str(p.status),
                p.like_count,
                p.comment_count,
                p.created_at,
            )
            for p in recent
        ],
    )


async def client_facets(db: AsyncSession, *, advisor_id: str) -> dict[str, list[str]]:
    """The risk profiles and regions among my clients (the filters worth offering)."""
    ids = list(
        (
            await db.execute(
                select(AdvisorAssignment.client_id).where(AdvisorAssignment.advisor_id == advisor_id)
            )
        ).scalars()
    )
    people = (await auth.profiles(db, ids)).values()
    await end_read(db)
    return {
        "risk_profiles": sorted({p.risk_profile for p in people if p.risk_profile}),
        "regions": sorted({p.region for p in people if p.region}),
    }


# --- administration: capacity, assignments, reassigning ------------------------------------------


@dataclass(frozen=True)
class AdvisorLoad:
    advisor_id: str
    display_name: str
    capacity: int
    clients: int
    regions: list[str]
    languages: list[str]
    risk_profiles: list[str]


async def overview(db: AsyncSession, rt: Runtime) -> list[AdvisorLoad]:
    """Every advisor with capacity, fit settings and current number of clients."""
    advisors = sorted(await auth.users_with_any_role(db, ["advisor"]), key=lambda u: (u.display_name, u.id))
    ids = [u.id for u in advisors]
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
    await end_read(db)
    out = []
    for u in advisors:
        p = profiles.get(u.id)
        out.append(
            AdvisorLoad(
                advisor_id=u.id,
                display_name=u.display_name,
                capacity=p.capacity if p else rt.settings.advisor_default_capacity,
                clients=int(loads.get(u.id, 0)),
                regions=sorted(_split(p.regions)) if p else [],
                languages=sorted(_split(p.languages)) if p else [],
                risk_profiles=sorted(_split(p.risk_profiles)) if p else [],
            )
        )
    return out


@dataclass(frozen=True)
class Assignment:
    client_id: str
    client_name: str
    advisor_id: str
    advisor_name: str
    fit: int
    assigned_at: datetime


async def assignments(
    db: AsyncSession, *, limit: int, cursor: str | None, advisor_id: str | None = None
) -> Chunk[Assignment]:
    """Who serves whom, newest assignment first, optionally for one advisor."""
    after = decode_cursor(cursor, TIME_ID_CURSOR)
    q = select(AdvisorAssignment)
    if advisor_id:
        q = q.where(AdvisorAssignment.advisor_id == advisor_id)
    if after is not None:
        at, cid = after
        q = q.where(
            (AdvisorAssignment.assigned_at < at)
            | ((AdvisorAssignment.assigned_at == at) & (AdvisorAssignment.client_id < cid))
        )
    order = (col(AdvisorAssignment.assigned_at).desc(), col(AdvisorAssignment.client_id).desc())
    rows = list((await db.execute(q.order_by(*order).limit(limit + 1))).scalars())
    names = await auth.profiles(db, {a.client_id for a in rows} | {a.advisor_id for a in rows})
    await end_read(db)

    def name(uid: str) -> str:
        return names[uid].display_name if uid in names else uid

    items = [
        Assignment(a.client_id, name(a.client_id), a.advisor_id, name(a.advisor_id), a.fit, a.assigned_at)
        for a in rows[:limit]
    ]
    last = rows[limit - 1] if len(rows) > limit else None
    return Chunk(
        items, next_cursor=encode_cursor([last.assigned_at.isoformat(), last.client_id]) if last else None
    )


async def reassign(db: AsyncSession, rt: Runtime, *, client_id: str, advisor_id: str) -> Assignment:
    """Give a client to another advisor, within that advisor's capacity.

    Locks the advisor's user row (as matching does), so two reassignments cannot overfill
    an advisor. Raises NotFound (no such client or advisor), ValidationFailed (a client
    cannot be their own advisor), LimitExceeded (the advisor is full)."""
    if client_id == advisor_id:
        raise ValidationFailed("a client cannot be their own advisor", field="advisor_id")
    async with transaction(db):
        advisor = (await auth.lock_profiles(db, [advisor_id])).get(advisor_id)
        if advisor is None or not advisor.has_role("advisor"):
            raise NotFound("advisor not found", advisor_id=advisor_id)
        client = await auth.get_profile(db, client_id)
        if client is None:
            raise NotFound("client not found", client_id=client_id)
        profile = await db.get(AdvisorProfile, advisor_id)
        capacity = profile.capacity if profile else rt.settings.advisor_default_capacity
        load = int(
            await db.scalar(
                select(func.count())
                .select_from(AdvisorAssignment)
                .where(AdvisorAssignment.advisor_id == advisor_id, AdvisorAssignment.client_id != client_id)
            )
            or 0
        )
        if load >= capacity:
            raise LimitExceeded("this advisor has no room", capacity=capacity, clients=load)
        now = rt.clock.now()
        row = await db.get(AdvisorAssignment, client_id, with_for_update=True)
        if row is None:
            row = AdvisorAssignment(client_id=client_id, advisor_id=advisor_id, fit=0, assigned_at=now)
            db.add(row)
        elif row.advisor_id != advisor_id:
            row.advisor_id, row.fit, row.assigned_at = advisor_id, 0, now
    return Assignment(
        client_id, client.display_name, advisor_id, advisor.display_name, row.fit, row.assigned_at
    )


async def client_profile(db: AsyncSession, rt: Runtime, *, advisor_id: str, client_id: str) -> ProfilePublic:
    """The tags of my client from the scenarios they share with their advisor, and only
    those. Raises NotFound (not my client)."""
    await access_client(db, advisor_id=advisor_id, client_id=client_id)
    return await profile.profile(db, rt, user_id=client_id, shared_only=True)
