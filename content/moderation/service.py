"""Moderation: screening text, the review queue, decisions, mutes, term lists, the audit log.

Term lists live in the database with a version; each worker caches its compiled filter
in ``rt.extras`` keyed by that version and rebuilds it when the version moves, so an
edit applies on every worker without a restart.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import anyio
from sqlalchemy import Select, and_, case, cast, func, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.models import User
from app.db import after_commit, end_read, is_unique_violation, transaction
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.ids import new_id
from app.notifications.service import notify
from app.pagination import Page, decode_cursor, encode_cursor
from app.realtime.hub import user_channel
from app.runtime import Runtime
from content.config import content_settings
from content.moderation import termfilter
from content.moderation.models import AuditEntry, FilterConfig, ModerationItem, Mute
from content.moderation.schemas import (
    QUEUE_STATES,
    AuditPublic,
    AuthorCard,
    AuthorHistory,
    AuthorPost,
    DecisionPublic,
    ItemDetail,
    ItemMedia,
    MarkedSpan,
    MutePublic,
    PastItem,
    QueueCounts,
    QueueItem,
    TermCategory,
    TermsIn,
    TermsPreview,
    TermsPublic,
)
from content.posts import counters
from content.posts import service as posts_service
from content.posts.models import Comment, Post

_CACHE = "content.filter"


# --- screening --------------------------------------------------------------------------


async def get_filter(db: AsyncSession, rt: Runtime) -> termfilter.TermFilter:
    """The compiled filter for the current term-list version (rebuilt when it changed)."""
    version = int(await db.scalar(select(FilterConfig.version).where(FilterConfig.id == 1)) or 0)
    cached = rt.extras.get(_CACHE)
    if cached is not None and cached[0] == version:
        return cached[1]  # type: ignore[no-any-return]
    config: dict[str, Any] = termfilter.DEFAULT_CONFIG
    if version:
        config = await db.scalar(select(FilterConfig.config).where(FilterConfig.id == 1)) or config
    allowed = content_settings(rt).allowed_domains
    built = await anyio.to_thread.run_sync(termfilter.build, config, allowed)
    rt.extras[_CACHE] = (version, built)
    return built


async def screen(db: AsyncSession, rt: Runtime, *texts: str | None) -> termfilter.Verdict:
    """Run the term filter over the texts. Raises ValidationFailed when a blocking category matches."""
    f = await get_filter(db, rt)
    verdict = f.scan("\n".join(t for t in texts if t))
    if verdict.action == "block":
        blocking = [c for c in verdict.categories if f.actions.get(c) == "block"]
        raise ValidationFailed(
            f"this text is not allowed ({', '.join(blocking)})",
            reason="content_blocked",
            category=blocking[0],
            categories=blocking,
        )
    return verdict


# --- mutes --------------------------------------------------------------------------------


def muted_user_ids(now: datetime) -> Select[Any]:
    """A subquery of the users muted at ``now``."""
    return select(Mute.user_id).where(Mute.until_at > now)


async def muted_until(db: AsyncSession, *, user_id: str, now: datetime) -> datetime | None:
    until = await db.scalar(select(Mute.until_at).where(Mute.user_id == user_id))
    return until if until is not None and until > now else None


async def check_not_muted(db: AsyncSession, *, user_id: str, now: datetime) -> None:
    """Raises Forbidden while the user is muted."""
    until = await muted_until(db, user_id=user_id, now=now)
    if until is not None:
        raise Forbidden("you are muted", reason="muted", muted_until=until.isoformat())


async def mute(
    db: AsyncSession, rt: Runtime, *, moderator_id: str, user_id: str, hours: int, reason: str
) -> MutePublic:
    """Mute a user for ``hours`` (replacing any mute); audited and notified. Raises NotFound."""
    async with transaction(db):
        if await db.get(User, user_id) is None:
            raise NotFound("no such user")
        now = rt.clock.now()
        until = now + timedelta(hours=hours)
        row = await db.get(Mute, user_id, with_for_update=True)
        if row is None:
            db.add(
                Mute(user_id=user_id, until_at=until, reason=reason, muted_by=moderator_id, created_at=now)
            )
        else:
            row.until_at, row.reason, row.muted_by, row.created_at = until, reason, moderator_id, now
        _audit(
            db,
            moderator_id=moderator_id,
            action="mute",
            target_kind="user",
            target_id=user_id,
            reason=reason,
            data={"hours": hours, "until": until.isoformat()},
            now=now,
        )
        await notify(
            db,
            rt,
            user_id=user_id,
            kind="moderation_decision",
            data={"decision": "mute", "muted_until": until.isoformat(), "reason": reason},
        )
    return MutePublic(user_id=user_id, muted_until=until)


# --- the queue ----------------------------------------------------------------------------


async def enqueue(
    db: AsyncSession,
    rt: Runtime,
    *,
    target_kind: str,
    target_id: str,
    author_id: str,
    reason: str,
    details: dict[str, Any],
) -> ModerationItem:
    """Put content in the review queue (once: an open item for it is reused); caller's transaction."""
    open_item = (
        await db.execute(
            select(ModerationItem).where(
                ModerationItem.target_kind == target_kind,
                ModerationItem.target_id == target_id,
                ModerationItem.status == "open",
            )
        )
    ).scalar_one_or_none()
    if open_item is not None:
        return open_item
    item = ModerationItem(
        id=new_id("mi_"),
        target_kind=target_kind,
        target_id=target_id,
        author_id=author_id,
        reason=reason,
        details=details,
        created_at=rt.clock.now(),
    )
    db.add(item)
    await db.flush()
    reviewers = await moderator_ids(db)
    frame = {
        "op": "moderation",
        "event": "item_opened",
        "item": {
            "id": item.id,
            "target_kind": target_kind,
            "target_id": target_id,
            "author_id": author_id,
            "reason": reason,
            "categories": list(details.get("categories", [])),
            "created_at": item.created_at.isoformat(),
        },
    }

    async def tell_moderators() -> None:
        await rt.hub.publish_many([user_channel(u) for u in reviewers], frame)

    after_commit(db, tell_moderators)
    return item


def _snapshot(target: Post | Comment | None) -> dict[str, Any]:
    if target is None:
        return {"status": "missing"}
    if isinstance(target, Post):
        return {"kind": target.kind, "title": target.title, "text": target.text, "status": target.status}
    return {"post_id": target.post_id, "text": target.text, "status": target.status}


async def _target(
    db: AsyncSession, kind: str, target_id: str, *, lock: bool = False
) -> Post | Comment | None:
    model: Any = Post if kind == "post" else Comment
    q = select(model).where(model.id == target_id)
    if lock:
        q = q.with_for_update()
    found: Post | Comment | None = (await db.execute(q)).scalar_one_or_none()
    return found


def _in_state(state: str) -> Any:
    """SQL: the items in a queue state (see ``QUEUE_STATES``)."""
    item = ModerationItem
    return {
        "open": item.status == "open",
        "pending": and_(item.status == "open", col(item.escalated_at).is_(None)),
        "escalated": and_(item.status == "open", col(item.escalated_at).is_not(None)),
        "approved": and_(item.status == "closed", item.decision == "approve"),
        "rejected": and_(item.status == "closed", item.decision == "reject"),
        "removed": and_(item.status == "closed", item.decision == "remove"),
    }[state]


async def queue(
    db: AsyncSession,
    *,
    limit: int,
    cursor: str | None,
    state: str = "open",
    reason: str | None = None,
    category: str | None = None,
    older_than_h: int | None = None,
    now: datetime | None = None,
) -> Page[QueueItem]:
    """Items in a state (``open`` by default: awaiting review, escalated ones too), oldest
    first, each with its reason and a snapshot of the content; filtered by why they were
    queued (``filter`` or ``reports``), by a term category that matched, and by age.
    Raises ValidationFailed (unknown state, bad cursor)."""
    if state not in QUEUE_STATES:
        raise ValidationFailed("unknown state", field="state", states=list(QUEUE_STATES))
    after = decode_cursor(cursor)
    q = select(ModerationItem, User.display_name).outerjoin(User, User.id == ModerationItem.author_id)
    q = q.where(_in_state(state))
    if reason:
        q = q.where(ModerationItem.reason == reason)
    if category:
        q = q.where(cast(ModerationItem.details, JSONB)["categories"].contains([category]))
    if older_than_h is not None and now is not None:
        q = q.where(ModerationItem.created_at <= now - timedelta(hours=older_than_h))
    if after is not None:
        try:
            at, item_id = datetime.fromisoformat(after[0]), str(after[1])
        except (TypeError, ValueError, IndexError, KeyError) as exc:
            raise ValidationFailed("invalid cursor", field="cursor") from exc
        q = q.where(
            (ModerationItem.created_at > at)
            | ((ModerationItem.created_at == at) & (ModerationItem.id > item_id))
        )
    rows = (await db.execute(q.order_by(ModerationItem.created_at, ModerationItem.id).limit(limit + 1))).all()
    items = []
    for item, author_name in rows[:limit]:
        target = await _target(db, item.target_kind, item.target_id)
        items.append(
            QueueItem(
                id=item.id,
                target_kind=item.target_kind,
                target_id=item.target_id,
                author_id=item.author_id,
                reason=item.reason,
                details=item.details,
                created_at=item.created_at,
                target=_snapshot(target),
                escalated=item.escalated_at is not None,
                author_name=author_name,
            )
        )
    await end_read(db)
    last = rows[limit - 1][0] if len(rows) > limit else None
    next_cursor = encode_cursor([last.created_at.isoformat(), last.id]) if last else None
    return Page[QueueItem](items=items, next_cursor=next_cursor)


async def counts(db: AsyncSession) -> QueueCounts:
    """How many items are in each state."""
    item = ModerationItem
    state = case(
        (and_(item.status == "open", col(item.escalated_at).is_(None)), "pending"),
        (item.status == "open", "escalated"),
        (item.decision == "approve", "approved"),
        (item.decision == "reject", "rejected"),
        else_="removed",
    )
    rows = (await db.execute(select(state, func.count()).group_by(state))).all()
    await end_read(db)
    return QueueCounts(**{name: int(n) for name, n in rows})


async def queue_depth(db: AsyncSession) -> int:
    """Open items (escalated ones included)."""
    n = int(await db.scalar(select(func.count()).select_from(ModerationItem).where(_in_state("open"))) or 0)
    await end_read(db)
    return n


_NEW_STATUS = {"approve": "published", "reject": "removed", "remove": "removed"}


def _escalate(
    db: AsyncSession, item: ModerationItem, *, moderator_id: str, reason: str, now: datetime
) -> DecisionPublic:
    """Flag an open item for a senior reviewer; it stays open (audited; the author hears nothing yet)."""
    if item.escalated_at is not None:
        raise Conflict("this item was already escalated", reason="already_escalated")
    item.escalated_by, item.escalated_at = moderator_id, now
    _audit(
        db,
        moderator_id=moderator_id,
        action="escalate",
        target_kind=item.target_kind,
        target_id=item.target_id,
        item_id=item.id,
        reason=reason,
        data={"queue_reason": item.reason},
        now=now,
    )
    return DecisionPublic(
        item_id=item.id,
        action="escalate",
        target_kind=item.target_kind,
        target_id=item.target_id,
        target_status="escalated",
    )


async def decide(
    db: AsyncSession, rt: Runtime, *, moderator_id: str, item_id: str, action: str, reason: str
) -> DecisionPublic:
    """Approve (publish), reject or remove the item's content, or escalate it (it stays
    open, flagged); audited; the author is notified of a decision.

    Locks the item and its content (FOR UPDATE). Raises NotFound, Conflict (already decided,
    already escalated)."""
    async with transaction(db):
        now = rt.clock.now()
        item = (
            await db.execute(select(ModerationItem).where(ModerationItem.id == item_id).with_for_update())
        ).scalar_one_or_none()
        if item is None:
            raise NotFound("no such moderation item")
        if item.status != "open":
            raise Conflict("this item was already decided", reason="already_decided", decision=item.decision)
        if action == "escalate":
            return _escalate(db, item, moderator_id=moderator_id, reason=reason, now=now)
        target = await _target(db, item.target_kind, item.target_id, lock=True)
        new_status = _NEW_STATUS[action]
        status = target.status if target is not None else "missing"
        if target is not None and target.status != "deleted":
            old = target.status
            target.status = status = new_status
            if isinstance(target, Comment) and old != new_status:
                # Only published comments count on their post.
                delta = (new_status == "published") - (old == "published")
                if delta:
                    await db.flush()
                    await counters.bump(db, rt, target.post_id, comments=delta)
        item.status, item.decision, item.decided_by, item.decided_at = "closed", action, moderator_id, now
        _audit(
            db,
            moderator_id=moderator_id,
            action=action,
            target_kind=item.target_kind,
            target_id=item.target_id,
            item_id=item.id,
            reason=reason,
            data={"queue_reason": item.reason, "target_status": status},
            now=now,
        )
        data = {
            "item_id": item.id,
            "target_kind": item.target_kind,
            "target_id": item.target_id,
            "decision": action,
            "reason": reason,
        }
        if item.target_kind == "post" and action == "remove":
            await notify(
                db, rt, user_id=item.author_id, kind="post_removed", data={**data, "post_id": item.target_id}
            )
        else:
            await notify(db, rt, user_id=item.author_id, kind="moderation_decision", data=data)
    return DecisionPublic(
        item_id=item.id,
        action=action,
        target_kind=item.target_kind,
        target_id=item.target_id,
        target_status=status,
    )


# --- terms --------------------------------------------------------------------------------


async def get_terms(db: AsyncSession) -> TermsPublic:
    """The current term lists (the built-in defaults until a moderator edits them)."""
    row = await db.get(FilterConfig, 1)
    config = row.config if row is not None else termfilter.DEFAULT_CONFIG
    return TermsPublic(
        version=row.version if row is not None else 0,
        categories={k: TermCategory.model_validate(v) for k, v in config.items()},
        updated_by=row.updated_by if row is not None else None,
        updated_at=row.updated_at if row is not None else None,
    )


async def put_terms(db: AsyncSession, rt: Runtime, *, moderator_id: str, body: TermsIn) -> TermsPublic:
    """Replace the term lists and bump the version (every worker rebuilds on its next scan).

    Locks the config row. Raises Conflict when ``expected_version`` is stale."""
    config = {name: cat.model_dump() for name, cat in body.categories.items()}
    try:
        async with transaction(db):
            now = rt.clock.now()
            row = await db.get(FilterConfig, 1, with_for_update=True)
            current = row.version if row is not None else 0
            if body.expected_version is not None and body.expected_version != current:
                raise Conflict("the term lists changed meanwhile", reason="stale_version", version=current)
            if row is None:
                row = FilterConfig(id=1, version=1, config=config, updated_by=moderator_id, updated_at=now)
                db.add(row)
            else:
                row.version, row.config, row.updated_by, row.updated_at = (
                    current + 1,
                    config,
                    moderator_id,
                    now,
                )
            await db.flush()
            _audit(
                db,
                moderator_id=moderator_id,
                action="terms",
                target_kind="terms",
                target_id=str(row.version),
                reason="term lists updated",
                data={name: {"action": c["action"], "terms": len(c["terms"])} for name, c in config.items()},
                now=now,
            )
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        raise Conflict("the term lists changed meanwhile", reason="stale_version") from exc
    return await get_terms(db)


# --- the audit log --------------------------------------------------------------------------


def _audit(
    db: AsyncSession,
    *,
    moderator_id: str,
    action: str,
    target_kind: str,
    target_id: str,
    reason: str,
    now: datetime,
    item_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Append an audit entry (there is no path that changes or deletes one)."""
    db.add(
        AuditEntry(
            id=new_id("au_"),
            moderator_id=moderator_id,
            action=action,
            target_kind=target_kind,
            target_id=target_id,
            item_id=item_id,
            reason=reason,
            data=data or {},
            created_at=now,
        )
    )


async def audit_log(
    db: AsyncSession,
    *,
    limit: int,
    cursor: str | None,
    action: str | None = None,
    moderator_id: str | None = None,
    target_kind: str | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
) -> Page[AuditPublic]:
    """Every decision, newest first; filtered by action, moderator, target and time."""
    before = decode_cursor(cursor)
    q = select(AuditEntry, User.display_name).outerjoin(User, User.id == AuditEntry.moderator_id)
    if before is not None:
        q = q.where(AuditEntry.id < str(before))
    if action:
        q = q.where(AuditEntry.action == action)
    if moderator_id:
        q = q.where(AuditEntry.moderator_id == moderator_id)
    if target_kind:
        q = q.where(AuditEntry.target_kind == target_kind)
    if target_id:
        q = q.where(AuditEntry.target_id == target_id)
    if since is not None:
        q = q.where(AuditEntry.created_at >= since)
    rows = (await db.execute(q.order_by(AuditEntry.id.desc()).limit(limit + 1))).all()  # type: ignore[attr-defined]
    await end_read(db)
    items = [
        AuditPublic.model_validate({**r.model_dump(), "moderator_name": name}) for r, name in rows[:limit]
    ]
    return Page[AuditPublic](
        items=items, next_cursor=encode_cursor(rows[limit - 1][0].id) if len(rows) > limit else None
    )


# --- the console's views: one item in full, an author's history, trying term lists ------------


def _marked(spans: list[termfilter.Span]) -> list[MarkedSpan]:
    return [MarkedSpan(start=s.start, end=s.end, category=s.category, match=s.match) for s in spans]


async def author_history(db: AsyncSession, rt: Runtime, *, author_id: str, limit: int = 10) -> AuthorHistory:
    """An author as moderators see them: mute, earlier review items with their decisions
    (and the reasons given), and latest posts. Raises NotFound."""
    author = await db.get(User, author_id)
    if author is None:
        raise NotFound("no such user")
    until = await muted_until(db, user_id=author_id, now=rt.clock.now())
    decided = (
        select(AuditEntry.item_id, func.max(AuditEntry.id).label("last"))
        .where(col(AuditEntry.item_id).is_not(None), AuditEntry.action != "escalate")
        .group_by(AuditEntry.item_id)
        .subquery()
    )
    rows = (
        await db.execute(
            select(ModerationItem, AuditEntry.reason)
            .outerjoin(decided, decided.c.item_id == ModerationItem.id)
            .outerjoin(AuditEntry, AuditEntry.id == decided.c.last)
            .where(ModerationItem.author_id == author_id)
            .order_by(col(ModerationItem.created_at).desc())
            .limit(limit)
        )
    ).all()
    posts_ = await posts_service.recent_by_author(db, author_id=author_id, limit=limit)
    await end_read(db)
    return AuthorHistory(
        author=AuthorCard(id=author.id, display_name=author.display_name, muted_until=until),
        items=[
            PastItem(
                id=i.id,
                target_kind=i.target_kind,
                target_id=i.target_id,
                reason=i.reason,
                status=i.status,
                decision=i.decision,
                decision_reason=why,
                decided_by=i.decided_by,
                decided_at=i.decided_at,
                created_at=i.created_at,
            )
            for i, why in rows
        ],
        posts=[
            AuthorPost(
                id=p.id,
                title=p.title,
                excerpt=p.text[:80],
                status=p.status,
                report_count=p.report_count,
                created_at=p.created_at,
            )
            for p in posts_
        ],
    )


async def item_detail(db: AsyncSession, rt: Runtime, *, item_id: str) -> ItemDetail:
    """One review item in full: the text with where the current term lists match, the
    images, the author's history and the earlier decisions on the same content. Raises NotFound."""
    item = await db.get(ModerationItem, item_id)
    if item is None:
        raise NotFound("no such moderation item")
    target = await _target(db, item.target_kind, item.target_id)
    snapshot = _snapshot(target)
    text = "\n".join(t for t in (snapshot.get("title"), snapshot.get("text")) if t)
    media: list[ItemMedia] = []
    if isinstance(target, Post):
        media = [
            ItemMedia(id=m["id"], url=f"/v1/media/{m['id']}/original", thumb_url=f"/v1/media/{m['id']}/thumb")
            for m in target.media
        ]
    f = await get_filter(db, rt)
    author_name = await db.scalar(select(User.display_name).where(User.id == item.author_id))
    earlier = await audit_log(
        db, limit=20, cursor=None, target_kind=item.target_kind, target_id=item.target_id
    )
    history = await author_history(db, rt, author_id=item.author_id)
    return ItemDetail(
        id=item.id,
        target_kind=item.target_kind,
        target_id=item.target_id,
        author_id=item.author_id,
        author_name=author_name,
        reason=item.reason,
        details=item.details,
        created_at=item.created_at,
        target=snapshot,
        escalated=item.escalated_at is not None,
        status=item.status,
        decision=item.decision,
        decided_by=item.decided_by,
        decided_at=item.decided_at,
        escalated_by=item.escalated_by,
        escalated_at=item.escalated_at,
        text=text,
        spans=_marked(termfilter.merge(f.spans(text))),
        media=media,
        history=history,
        decisions=[d for d in earlier.items],
    )


async def preview_terms(
    db: AsyncSession, rt: Runtime, *, text: str, categories: dict[str, TermCategory] | None
) -> TermsPreview:
    """What the given term lists (unsaved; the current ones when None) would do to ``text``:
    the action, what matched, and where. Changes nothing."""
    if categories is None:
        f = await get_filter(db, rt)
        await end_read(db)
    else:
        config = {name: cat.model_dump() for name, cat in categories.items()}
        f = await anyio.to_thread.run_sync(termfilter.build, config, content_settings(rt).allowed_domains)
    verdict = f.scan(text)
    return TermsPreview(
        action=verdict.action, hits=verdict.hits, spans=_marked(termfilter.merge(f.spans(text)))
    )


async def moderator_ids(db: AsyncSession) -> list[str]:
    """Everyone who reviews the queue (moderators and admins)."""
    rows = (
        await db.execute(
            select(User.id, User.roles).where(
                or_(col(User.roles).contains("moderator"), col(User.roles).contains("admin"))
            )
        )
    ).all()
    return [uid for uid, roles in rows if {"moderator", "admin"} & set(roles.split(","))]
