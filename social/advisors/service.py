"""Advisors (理财经理): matching clients to advisors, the client's door to their advisor,
and the advisor's view of their clients.

An advisor sees their own clients only (``access_client`` is the one check). The client
and the advisor talk in their direct conversation, opened by ``my_advisor`` although
they are not friends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import anyio
from sqlalchemy import func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import phones
from app.auth.models import User
from app.auth.schemas import UserPublic
from app.db import end_read, transaction
from app.errors import LimitExceeded, NotFound, ValidationFailed
from app.ids import new_id
from app.pagination import Page, decode_cursor, encode_cursor
from app.runtime import Runtime
from content.config import content_settings
from content.posts import service as posts
from content.posts.schemas import ProductCard
from games.forest import service as forest
from social.advisors import matching
from social.advisors.models import AdvisorAssignment, AdvisorNote, AdvisorProfile
from social.advisors.schemas import (
    AdvisorLoad,
    AdvisorProfileIn,
    AdvisorProfilePublic,
    AssignmentPublic,
    ChatLine,
    ClientActivity,
    ClientDetail,
    ClientSummary,
    GameEvent,
    Inbox,
    InboxItem,
    MatchResult,
    MessageCounts,
    MyAdvisorPublic,
    NotePublic,
    PostEvent,
    ProductShare,
    SharedMessage,
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
        conv_id = await _open_direct(db, rt, client_id=user_id, advisor_id=advisor.id)
        return MyAdvisorPublic(
            advisor=UserPublic(
                id=advisor.id, display_name=advisor.display_name, avatar_url=advisor.avatar_url
            ),
            conversation_id=conv_id,
            assigned_at=row.assigned_at,
        )


async def _open_direct(db: AsyncSession, rt: Runtime, *, client_id: str, advisor_id: str) -> str:
    """The client's direct conversation with their advisor (opened now if new), in which the
    advisor is marked as such; in the caller's transaction."""
    conv = await chat.get_or_create_direct(db, rt, client_id, advisor_id)
    await db.execute(
        update(ConversationMember)
        .where(ConversationMember.conversation_id == conv.id, ConversationMember.user_id == advisor_id)
        .values(role="advisor")
    )
    return conv.id


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
    client_last: dict[str, datetime] = {}  # conversation → the client's own latest message
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
                if last is not None:
                    client_last[cid] = last
            if last is not None and (c.last_at is None or last > c.last_at):
                c.last_at = last
    games = await _game_activity(rt, [u.id for u, _ in rows])
    out = []
    for u, a in rows:
        cid = conv_of.get(u.id)
        msgs = counts.get(cid, MessageCounts()) if cid else MessageCounts()
        seen = [t for t in (u.last_active_at, client_last.get(cid) if cid else None) if t is not None]
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


CLIENT_SORTS = ("id", "name", "last_active", "assigned")


def _direct_key_sql(advisor_id: str) -> Any:
    """SQL: the direct-conversation key of the advisor and each row's user (``pair``: the
    two ids in code-point order, hence the "C" collation)."""
    uid, aid = col(User.id).collate("C"), literal(advisor_id).collate("C")
    return func.concat(func.least(uid, aid), "|", func.greatest(uid, aid))


def _last_active_sql(advisor_id: str) -> Any:
    """SQL: the client's last activity: seen in the app, or their latest message to me."""
    last_message = (
        select(func.max(Message.created_at))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.direct_key == _direct_key_sql(advisor_id), Message.sender_id == User.id)
        .scalar_subquery()
    )
    return func.greatest(User.last_active_at, last_message)


def _search(q: str, rt: Runtime) -> Any:
    """SQL: a client matches by name, by the last digits of their phone, or by the whole number."""
    text = q.strip()
    like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    conds = [col(User.display_name).ilike(like, escape="\\")]
    if text.isdigit() and len(text) <= 4:
        conds.append(col(User.phone_masked).endswith(text))
    e164 = phones.normalise(text, rt.settings.default_phone_region) if len(text) >= 7 else None
    if e164 is not None:
        conds.append(User.phone_hash == phones.phone_hash(e164, rt.settings.phone_hmac_key))
    return or_(*conds)


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
) -> Page[ClientSummary]:
    """My clients (an advisor's), with an engagement summary: found by name or phone
    (the last four digits, or the whole number), filtered by risk profile and region,
    by id or sorted by name, last activity (latest first) or assignment (newest first).
    Raises ValidationFailed (unknown sort, bad cursor)."""
    if sort not in CLIENT_SORTS:
        raise ValidationFailed("unknown sort", field="sort", sorts=list(CLIENT_SORTS))
    after = decode_cursor(cursor)
    query = (
        select(User, AdvisorAssignment)
        .join(AdvisorAssignment, AdvisorAssignment.client_id == User.id)
        .where(AdvisorAssignment.advisor_id == advisor_id)
    )
    if q and q.strip():
        query = query.where(_search(q, rt))
    if risk_profile:
        query = query.where(User.risk_profile == risk_profile)
    if region:
        query = query.where(User.region == region)
    if sort == "id":
        if after is not None:
            query = query.where(User.id > str(after))
        query = query.order_by(User.id)
        offset = 0
    else:
        # A sorted list pages by position: an advisor's clients are a few hundred at most.
        offset = after.get("o", 0) if isinstance(after, dict) else 0
        if not isinstance(offset, int) or offset < 0:
            raise ValidationFailed("invalid cursor", field="cursor")
        order = {
            "name": [col(User.display_name), col(User.id)],
            "last_active": [_last_active_sql(advisor_id).desc().nulls_last(), col(User.id)],
            "assigned": [col(AdvisorAssignment.assigned_at).desc(), col(User.id)],
        }[sort]
        query = query.order_by(*order).offset(offset)
    rows = [(u, a) for u, a in (await db.execute(query.limit(limit + 1))).all()]
    more = len(rows) > limit
    rows = rows[:limit]
    items = await _summaries(db, rt, advisor_id, rows)
    await end_read(db)
    next_cursor = None
    if more:
        next_cursor = encode_cursor(rows[-1][0].id) if sort == "id" else encode_cursor({"o": offset + limit})
    return Page[ClientSummary](items=items, next_cursor=next_cursor)


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


# --- the advisor's workbench: notes, inbox, chat, products, activity ---------------------------


async def add_note(
    db: AsyncSession, rt: Runtime, *, advisor_id: str, client_id: str, text: str
) -> NotePublic:
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
        name = await db.scalar(select(User.display_name).where(User.id == advisor_id))
    return NotePublic(**note.model_dump(), advisor_name=name)


async def notes(
    db: AsyncSession, *, advisor_id: str, client_id: str, limit: int, cursor: str | None
) -> Page[NotePublic]:
    """The notes on one of my clients (kept by any advisor of theirs), newest first. Raises NotFound."""
    await access_client(db, advisor_id=advisor_id, client_id=client_id)
    before = decode_cursor(cursor)
    q = (
        select(AdvisorNote, User.display_name)
        .outerjoin(User, User.id == AdvisorNote.advisor_id)
        .where(AdvisorNote.client_id == client_id)
    )
    if before is not None:
        q = q.where(AdvisorNote.id < str(before))
    rows = (await db.execute(q.order_by(col(AdvisorNote.id).desc()).limit(limit + 1))).all()
    await end_read(db)
    items = [NotePublic(**n.model_dump(), advisor_name=name) for n, name in rows[:limit]]
    return Page[NotePublic](
        items=items, next_cursor=encode_cursor(rows[limit - 1][0].id) if len(rows) > limit else None
    )


async def client_conversation(db: AsyncSession, rt: Runtime, *, advisor_id: str, client_id: str) -> str:
    """The id of my direct conversation with one of my clients (opened now if new). Raises NotFound."""
    async with transaction(db):
        await access_client(db, advisor_id=advisor_id, client_id=client_id)
        return await _open_direct(db, rt, client_id=client_id, advisor_id=advisor_id)


async def inbox(db: AsyncSession, *, advisor_id: str) -> Inbox:
    """My clients' conversations with messages I have not read, most recent first."""
    clients_: dict[str, str] = dict(
        (
            await db.execute(
                select(User.id, User.display_name)
                .join(AdvisorAssignment, AdvisorAssignment.client_id == User.id)
                .where(AdvisorAssignment.advisor_id == advisor_id)
            )
        ).all()
    )
    states = await chat.direct_states(db, user_id=advisor_id, peer_ids=list(clients_))
    await end_read(db)
    items = [
        InboxItem(
            client_id=peer,
            display_name=clients_[peer],
            conversation_id=st.conversation_id,
            unread_count=st.unread,
            last_seq=st.last_seq,
            last_message_at=st.last_message_at,
        )
        for peer, st in states.items()
        if st.unread > 0
    ]
    items.sort(key=lambda i: (i.last_message_at is not None, i.last_message_at), reverse=True)
    return Inbox(items=items, total_unread=sum(i.unread_count for i in items))


async def share_product(
    db: AsyncSession, rt: Runtime, *, advisor_id: str, client_id: str, product: ProductShare
) -> SharedMessage:
    """Post a bank product card into my chat with one of my clients (kind ``product``).

    The link must point to the bank, by the same rule as a post's product card. Raises
    NotFound, ValidationFailed."""
    posts.check_product(content_settings(rt), ProductCard(**product.model_dump()))
    async with transaction(db):
        await access_client(db, advisor_id=advisor_id, client_id=client_id)
        conv_id = await _open_direct(db, rt, client_id=client_id, advisor_id=advisor_id)
        msg = await chat.post_message(
            db, rt, conversation_id=conv_id, sender_id=advisor_id, kind="product", body=product.model_dump()
        )
    return SharedMessage(conversation_id=conv_id, seq=msg.seq, message_id=msg.id)


async def client_activity(
    db: AsyncSession, *, advisor_id: str, client_id: str, limit: int = 10
) -> ClientActivity:
    """One of my clients' latest game and content activity. Raises NotFound."""

    await access_client(db, advisor_id=advisor_id, client_id=client_id)
    game = [
        GameEvent.model_validate(e) for e in await forest.recent_activity(db, user_id=client_id, limit=limit)
    ]
    recent = await posts.recent_by_author(db, author_id=client_id, limit=limit)
    await end_read(db)
    return ClientActivity(
        game=game,
        posts=[
            PostEvent(
                id=p.id,
                kind=p.kind,
                title=p.title,
                excerpt=p.text[:80],
                status=p.status,
                like_count=p.like_count,
                comment_count=p.comment_count,
                created_at=p.created_at,
            )
            for p in recent
        ],
    )


# --- administration: capacity, assignments, reassigning ------------------------------------------


async def overview(db: AsyncSession, rt: Runtime) -> list[AdvisorLoad]:
    """Every advisor with capacity, fit settings and current number of clients."""
    advisors = (
        (
            await db.execute(
                select(User).where(col(User.roles).contains("advisor")).order_by(User.display_name)
            )
        )
        .scalars()
        .all()
    )
    advisors = [u for u in advisors if u.has_role("advisor")]
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


async def assignments(
    db: AsyncSession, *, limit: int, cursor: str | None, advisor_id: str | None = None
) -> Page[AssignmentPublic]:
    """Who serves whom, newest assignment first, optionally for one advisor."""
    client, advisor = User.__table__.alias("client"), User.__table__.alias("advisor")  # type: ignore[attr-defined]
    after = decode_cursor(cursor)
    q = (
        select(AdvisorAssignment, client.c.display_name, advisor.c.display_name)
        .join(client, client.c.id == AdvisorAssignment.client_id)
        .join(advisor, advisor.c.id == AdvisorAssignment.advisor_id)
    )
    if advisor_id:
        q = q.where(AdvisorAssignment.advisor_id == advisor_id)
    if after is not None:
        try:
            at, cid = datetime.fromisoformat(after[0]), str(after[1])
        except (TypeError, ValueError, IndexError, KeyError) as exc:
            raise ValidationFailed("invalid cursor", field="cursor") from exc
        q = q.where(
            or_(
                AdvisorAssignment.assigned_at < at,
                (AdvisorAssignment.assigned_at == at) & (AdvisorAssignment.client_id < cid),
            )
        )
    rows = (
        await db.execute(
            q.order_by(
                col(AdvisorAssignment.assigned_at).desc(), col(AdvisorAssignment.client_id).desc()
            ).limit(limit + 1)
        )
    ).all()
    await end_read(db)
    items = [
        AssignmentPublic(
            client_id=a.client_id,
            client_name=cname,
            advisor_id=a.advisor_id,
            advisor_name=aname,
            fit=a.fit,
            assigned_at=a.assigned_at,
        )
        for a, cname, aname in rows[:limit]
    ]
    last = rows[limit - 1][0] if len(rows) > limit else None
    return Page[AssignmentPublic](
        items=items,
        next_cursor=encode_cursor([last.assigned_at.isoformat(), last.client_id]) if last else None,
    )


async def reassign(db: AsyncSession, rt: Runtime, *, client_id: str, advisor_id: str) -> AssignmentPublic:
    """Give a client to another advisor, within that advisor's capacity.

    Locks the advisor's user row (as matching does), so two reassignments cannot overfill
    an advisor. Raises NotFound (no such client or advisor), ValidationFailed (a client
    cannot be their own advisor), LimitExceeded (the advisor is full)."""
    if client_id == advisor_id:
        raise ValidationFailed("a client cannot be their own advisor", field="advisor_id")
    async with transaction(db):
        advisor = (
            await db.execute(select(User).where(User.id == advisor_id).with_for_update())
        ).scalar_one_or_none()
        if advisor is None or not advisor.has_role("advisor"):
            raise NotFound("advisor not found", advisor_id=advisor_id)
        client = await db.get(User, client_id)
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
    return AssignmentPublic(
        client_id=client_id,
        client_name=client.display_name,
        advisor_id=advisor_id,
        advisor_name=advisor.display_name,
        fit=row.fit,
        assigned_at=row.assigned_at,
    )


async def client_facets(db: AsyncSession, *, advisor_id: str) -> dict[str, list[str]]:
    """The risk profiles and regions among my clients (the filters worth offering)."""
    rows = (
        await db.execute(
            select(User.risk_profile, User.region)
            .join(AdvisorAssignment, AdvisorAssignment.client_id == User.id)
            .where(AdvisorAssignment.advisor_id == advisor_id)
            .distinct()
        )
    ).all()
    await end_read(db)
    return {
        "risk_profiles": sorted({r for r, _ in rows if r}),
        "regions": sorted({g for _, g in rows if g}),
    }
