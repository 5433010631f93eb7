"""Moderation: screening text, the review queue, decisions, mutes, term lists, the audit log.

Term lists live in the database with a version; each worker caches its compiled filter
in a runtime slot keyed by that version and rebuilds it when the version moves, so an
edit applies on every worker without a restart.

Moderation does not know the content it queues: the feature that owns a kind of content
registers a ``Target`` for it (``register_target``; posts register ``post`` and
``comment``), which shows a moderator what to judge and applies the decision.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import anyio
from sqlalchemy import Select, and_, case, cast, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import service as auth
from app.auth.schemas import PersonCard
from app.db import after_commit, end_read, is_unique_violation, transaction
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.ids import new_id
from app.notifications.service import notify
from app.pagination import ID_CURSOR, TIME_ID_CURSOR, Chunk, decode_cursor, encode_cursor
from app.realtime.hub import user_channel
from app.runtime import Runtime, Slot
from content.config import content_settings
from content.moderation import termfilter
from content.moderation.models import (
    AuditAction,
    AuditEntry,
    Decision,
    FilterConfig,
    ItemStatus,
    ModerationItem,
    Mute,
)

# [(term-list version, compiled filter)] once built
_CACHE: Slot[list[tuple[int, termfilter.TermFilter]]] = Slot("content.filter", lambda rt: [])


# --- what is moderated -----------------------------------------------------------------------

MISSING = "missing"  # the status of content that no longer exists


@dataclass(frozen=True)
class Target:
    """How moderation reaches one kind of content, registered by the feature that owns it.

    ``snapshot(db, id)``: what a moderator judges (title, text, status…), ``{"status":
    "missing"}`` when it is gone. ``publish(db, rt, id, published)``: make it published
    (True) or removed (False), unless its author deleted it, locking it; returns its status
    afterwards (``MISSING`` when gone). Both run in moderation's transaction."""

    snapshot: Callable[[AsyncSession, str], Awaitable[dict[str, Any]]]
    publish: Callable[[AsyncSession, Runtime, str, bool], Awaitable[str]]
    # ``by_author(db, author_id, limit)``: the author's latest content of this kind, as
    # moderators see it ({id, title, excerpt, status, …}), for the author's history.
    by_author: Callable[[AsyncSession, str, int], Awaitable[list[dict[str, Any]]]] | None = None


TARGETS: dict[str, Target] = {}


def register_target(kind: str, target: Target) -> None:
    """Let content of ``kind`` be queued (``enqueue``) and decided."""
    TARGETS[kind] = target


# --- screening --------------------------------------------------------------------------


async def get_filter(db: AsyncSession, rt: Runtime) -> termfilter.TermFilter:
    """The compiled filter for the current term-list version (rebuilt when it changed)."""
    version = int(await db.scalar(select(FilterConfig.version).where(FilterConfig.id == 1)) or 0)
    cached = rt.slot(_CACHE)
    if cached and cached[0][0] == version:
        return cached[0][1]
    config: dict[str, Any] = termfilter.DEFAULT_CONFIG
    if version:
        config = await db.scalar(select(FilterConfig.config).where(FilterConfig.id == 1)) or config
    allowed = content_settings(rt).allowed_domains
    built = await anyio.to_thread.run_sync(termfilter.build, config, allowed)
    cached[:] = [(version, built)]
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
) -> datetime:
    """Mute a user for ``hours`` (replacing any mute); audited and notified. Returns the end
    of the mute. Raises NotFound."""
    async with transaction(db):
        if not await auth.user_exists(db, user_id):
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
            action=AuditAction.MUTE,
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
            data={"decision": AuditAction.MUTE, "muted_until": until.isoformat(), "reason": reason},
        )
    return until


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
    """Put content of a registered kind in the review queue (once: an open item for it is
    reused); caller's transaction."""
    if target_kind not in TARGETS:
        raise ValueError(f"no moderation target {target_kind!r} is registered")
    open_item = (
        await db.execute(
            select(ModerationItem).where(
                ModerationItem.target_kind == target_kind,
                ModerationItem.target_id == target_id,
                ModerationItem.status == ItemStatus.OPEN,
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
    reviewers = [p.id for p in await auth.users_with_any_role(db, ("moderator", "admin"))]
    author = (await auth.person_cards(db, [author_id])).get(author_id)
    frame = {
        "op": "moderation",
        "event": "item_opened",
        "item": {
            "id": item.id,
            "target_kind": target_kind,
            "target_id": target_id,
            "author_id": author_id,
            "author": author.model_dump(mode="json") if author is not None else None,
            "reason": reason,
            "categories": list(details.get("categories", [])),
            "created_at": item.created_at.isoformat(),
        },
    }

    async def tell_moderators() -> None:
        await rt.hub.publish_many([user_channel(u) for u in reviewers], frame)

    after_commit(db, tell_moderators)
    return item


@dataclass(frozen=True)
class Queued:
    item: ModerationItem
    target: dict[str, Any]  # a snapshot of what to judge (``Target.snapshot``)
    author: PersonCard | None = None  # None: the author's account is gone

    @property
    def author_name(self) -> str | None:
        return self.author.display_name if self.author is not None else None


QUEUE_STATES = ("open", "pending", "escalated", "approved", "rejected", "removed")


def _in_state(state: str) -> Any:
    """SQL: the items in a queue state (``open`` is ``pending`` and ``escalated``)."""
    item = ModerationItem
    return {
        "open": item.status == ItemStatus.OPEN,
        "pending": and_(item.status == ItemStatus.OPEN, col(item.escalated_at).is_(None)),
        "escalated": and_(item.status == ItemStatus.OPEN, col(item.escalated_at).is_not(None)),
        "approved": and_(item.status == ItemStatus.CLOSED, item.decision == Decision.APPROVE),
        "rejected": and_(item.status == ItemStatus.CLOSED, item.decision == Decision.REJECT),
        "removed": and_(item.status == ItemStatus.CLOSED, item.decision == Decision.REMOVE),
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
) -> Chunk[Queued]:
    """Items in a state (``open`` by default: awaiting review, escalated ones too), oldest
    first, each with its reason and a snapshot of the content; filtered by why they were
    queued (``filter`` or ``reports``), by a term category that matched, and by age.
    Raises ValidationFailed (unknown state, bad cursor)."""
    if state not in QUEUE_STATES:
        raise ValidationFailed("unknown state", field="state", states=list(QUEUE_STATES))
    after = decode_cursor(cursor, TIME_ID_CURSOR)
    q = select(ModerationItem).where(_in_state(state))
    if reason:
        q = q.where(ModerationItem.reason == reason)
    if category:
        q = q.where(cast(ModerationItem.details, JSONB)["categories"].contains([category]))
    if older_than_h is not None and now is not None:
        q = q.where(ModerationItem.created_at <= now - timedelta(hours=older_than_h))
    if after is not None:
        at, item_id = after
        q = q.where(
            (ModerationItem.created_at > at)
            | ((ModerationItem.created_at == at) & (ModerationItem.id > item_id))
        )
    rows = (
        (await db.execute(q.order_by(ModerationItem.created_at, ModerationItem.id).limit(limit + 1)))
        .scalars()
        .all()
    )
    authors = await auth.person_cards(db, [i.author_id for i in rows[:limit]])
    items = [
        Queued(
            item,
            await TARGETS[item.target_kind].snapshot(db, item.target_id),
            authors.get(item.author_id),
        )
        for item in rows[:limit]
    ]
    await end_read(db)
    last = rows[limit - 1] if len(rows) > limit else None
    next_cursor = encode_cursor([last.created_at.isoformat(), last.id]) if last else None
    return Chunk(items, next_cursor=next_cursor)


async def counts(db: AsyncSession) -> dict[str, int]:
    """How many items are in each state (``pending``, ``escalated``, ``approved``, …)."""
    item = ModerationItem
    state = case(
        (and_(item.status == ItemStatus.OPEN, col(item.escalated_at).is_(None)), "pending"),
        (item.status == ItemStatus.OPEN, "escalated"),
        (item.decision == Decision.APPROVE, "approved"),
        (item.decision == Decision.REJECT, "rejected"),
        else_="removed",
    )
    rows = (await db.execute(select(state, func.count()).group_by(state))).all()
    await end_read(db)
    found = {name: int(n) for name, n in rows}
    return {name: found.get(name, 0) for name in ("pending", "escalated", "approved", "rejected", "removed")}


async def queue_depth(db: AsyncSession) -> int:
    """Open items (escalated ones included)."""
    n = int(await db.scalar(select(func.count()).select_from(ModerationItem).where(_in_state("open"))) or 0)
    await end_read(db)
    return n


@dataclass(frozen=True)
class Decided:
    item: ModerationItem
    target_status: str  # the content's status afterwards (``MISSING`` when gone)


async def escalate(db: AsyncSession, rt: Runtime, *, moderator_id: str, item_id: str, reason: str) -> Decided:
    """Flag an open item for a senior reviewer: it stays open (audited; the author hears
    nothing yet). Locks the item. Raises NotFound, Conflict (decided, already escalated)."""
    async with transaction(db):
        now = rt.clock.now()
        item = (
            await db.execute(select(ModerationItem).where(ModerationItem.id == item_id).with_for_update())
        ).scalar_one_or_none()
        if item is None:
            raise NotFound("no such moderation item")
        if item.status != ItemStatus.OPEN:
            raise Conflict("this item was already decided", reason="already_decided", decision=item.decision)
        if item.escalated_at is not None:
            raise Conflict("this item was already escalated", reason="already_escalated")
        item.escalated_by, item.escalated_at = moderator_id, now
        _audit(
            db,
            moderator_id=moderator_id,
            action=AuditAction.ESCALATE,
            target_kind=item.target_kind,
            target_id=item.target_id,
            item_id=item.id,
            reason=reason,
            data={"queue_reason": item.reason},
            now=now,
        )
    return Decided(item=item, target_status="escalated")


async def decide(
    db: AsyncSession, rt: Runtime, *, moderator_id: str, item_id: str, action: Decision, reason: str
) -> Decided:
    """Approve (publish), reject or remove the item's content (an escalated one too);
    audited; the author is notified.

    Locks the item and its content (FOR UPDATE). Raises NotFound, Conflict (already decided)."""
    async with transaction(db):
        now = rt.clock.now()
        item = (
            await db.execute(select(ModerationItem).where(ModerationItem.id == item_id).with_for_update())
        ).scalar_one_or_none()
        if item is None:
            raise NotFound("no such moderation item")
        if item.status != ItemStatus.OPEN:
            raise Conflict("this item was already decided", reason="already_decided", decision=item.decision)
        target = TARGETS[item.target_kind]
        status = await target.publish(db, rt, item.target_id, action == Decision.APPROVE)
        item.status, item.decision, item.decided_by, item.decided_at = (
            ItemStatus.CLOSED,
            action,
            moderator_id,
            now,
        )
        _audit(
            db,
            moderator_id=moderator_id,
            action=AuditAction(action),
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
        if item.target_kind == "post" and action == Decision.REMOVE:
            await notify(
                db, rt, user_id=item.author_id, kind="post_removed", data={**data, "post_id": item.target_id}
            )
        else:
            await notify(db, rt, user_id=item.author_id, kind="moderation_decision", data=data)
    return Decided(item=item, target_status=status)


async def act(
    db: AsyncSession, rt: Runtime, *, moderator_id: str, item_id: str, action: str, reason: str
) -> Decided:
    """A moderator's action on an item: ``escalate`` it, or decide it (``approve``,
    ``reject``, ``remove``). Raises NotFound, Conflict, ValidationFailed (unknown action)."""
    if action == AuditAction.ESCALATE:
        return await escalate(db, rt, moderator_id=moderator_id, item_id=item_id, reason=reason)
    try:
        decision = Decision(action)
    except ValueError as exc:
        raise ValidationFailed("unknown action", field="action") from exc
    return await decide(db, rt, moderator_id=moderator_id, item_id=item_id, action=decision, reason=reason)


# --- terms --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Terms:
    version: int  # 0: the built-in defaults
    config: dict[str, Any]  # category → {"action": …, "terms": […]}
    updated_by: str | None
    updated_at: datetime | None


async def get_terms(db: AsyncSession) -> Terms:
    """The current term lists (the built-in defaults until a moderator edits them)."""
    row = await db.get(FilterConfig, 1)
    if row is None:
        return Terms(0, termfilter.DEFAULT_CONFIG, None, None)
    return Terms(row.version, row.config, row.updated_by, row.updated_at)


async def put_terms(
    db: AsyncSession, rt: Runtime, *, moderator_id: str, config: dict[str, Any], expected_version: int | None
) -> Terms:
    """Replace the term lists and bump the version (every worker rebuilds on its next scan).

    Locks the config row. Raises Conflict when ``expected_version`` is stale."""
    try:
        async with transaction(db):
            now = rt.clock.now()
            row = await db.get(FilterConfig, 1, with_for_update=True)
            current = row.version if row is not None else 0
            if expected_version is not None and expected_version != current:
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
                action=AuditAction.TERMS,
                target_kind="terms",
                target_id=str(row.version),
                reason="term lists updated",
                data={name: {"action": c["action"], "terms": len(c["terms"])} for name, c in config.items()},
                now=now,
            )
    except IntegrityError as exc:
        if not is_unique_violation(exc, "pk_moderation_filter"):
            raise
        raise Conflict("the term lists changed meanwhile", reason="stale_version") from exc
    return await get_terms(db)


# --- the audit log --------------------------------------------------------------------------


def _audit(
    db: AsyncSession,
    *,
    moderator_id: str,
    action: AuditAction,
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


@dataclass(frozen=True)
class Logged:
    entry: AuditEntry
    moderator_name: str | None


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
) -> Chunk[Logged]:
    """Every decision, newest first; filtered by action, moderator, target and time."""
    before = decode_cursor(cursor, ID_CURSOR)
    q = select(AuditEntry)
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
    rows = (await db.execute(q.order_by(col(AuditEntry.id).desc()).limit(limit + 1))).scalars().all()
    names = await auth.profiles(db, {r.moderator_id for r in rows[:limit]})
    await end_read(db)
    items = [
        Logged(r, names[r.moderator_id].display_name if r.moderator_id in names else None)
        for r in rows[:limit]
    ]
    return Chunk(items, next_cursor=encode_cursor(rows[limit - 1].id) if len(rows) > limit else None)


# --- the console's views: one item in full, an author's history, trying term lists ------------


@dataclass(frozen=True)
class PastItem:
    item: ModerationItem
    decision_reason: str | None


@dataclass(frozen=True)
class AuthorHistory:
    author: auth.Profile
    muted_until: datetime | None
    items: list[PastItem]  # earlier review items about this author, newest first
    content: list[dict[str, Any]]  # their latest content (``Target.by_author``), newest first


async def author_history(db: AsyncSession, rt: Runtime, *, author_id: str, limit: int = 10) -> AuthorHistory:
    """An author as moderators see them: mute, earlier review items with their decisions
    (and the reasons given), and latest content. Raises NotFound."""
    author = await auth.get_profile(db, author_id)
    if author is None:
        raise NotFound("no such user")
    until = await muted_until(db, user_id=author_id, now=rt.clock.now())
    decided = (
        select(AuditEntry.item_id, func.max(AuditEntry.id).label("last"))
        .where(col(AuditEntry.item_id).is_not(None), AuditEntry.action != AuditAction.ESCALATE)
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
    content: list[dict[str, Any]] = []
    for target in TARGETS.values():
        if target.by_author is not None:
            content += await target.by_author(db, author_id, limit)
    content.sort(key=lambda c: c["created_at"], reverse=True)
    await end_read(db)
    return AuthorHistory(author, until, [PastItem(i, why) for i, why in rows], content[:limit])


@dataclass(frozen=True)
class ItemView:
    queued: Queued
    text: str  # the title and text that were screened
    spans: list[termfilter.Span]  # where the current term lists match in ``text``
    media_ids: list[str]
    history: AuthorHistory
    decisions: list[Logged]  # earlier decisions on the same content


async def item_detail(db: AsyncSession, rt: Runtime, *, item_id: str) -> ItemView:
    """One review item in full: the text with where the current term lists match, the
    images, the author's history and the earlier decisions on the same content. Raises NotFound."""
    item = await db.get(ModerationItem, item_id)
    if item is None:
        raise NotFound("no such moderation item")
    snapshot = await TARGETS[item.target_kind].snapshot(db, item.target_id)
    text = "\n".join(t for t in (snapshot.get("title"), snapshot.get("text")) if t)
    f = await get_filter(db, rt)
    history = await author_history(db, rt, author_id=item.author_id)
    earlier = await audit_log(
        db, limit=20, cursor=None, target_kind=item.target_kind, target_id=item.target_id
    )
    return ItemView(
        queued=Queued(item, snapshot, auth.card_of(history.author)),
        text=text,
        spans=termfilter.merge(f.spans(text)),
        media_ids=list(snapshot.get("media", [])),
        history=history,
        decisions=earlier.items,
    )


@dataclass(frozen=True)
class Preview:
    action: str  # block | review | flag | allow
    hits: dict[str, list[str]]
    spans: list[termfilter.Span]


async def preview_terms(
    db: AsyncSession, rt: Runtime, *, text: str, config: dict[str, Any] | None
) -> Preview:
    """What the given term lists (unsaved; the current ones when None) would do to ``text``:
    the action, what matched, and where. Changes nothing."""
    if config is None:
        f = await get_filter(db, rt)
        await end_read(db)
    else:
        f = await anyio.to_thread.run_sync(termfilter.build, config, content_settings(rt).allowed_domains)
    verdict = f.scan(text)
    return Preview(action=verdict.action, hits=verdict.hits, spans=termfilter.merge(f.spans(text)))
