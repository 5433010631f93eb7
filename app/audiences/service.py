"""Segments: define, preview, evaluate; membership kept current as members' tags change.

- **One query per segment**: a rule compiles to one SQL condition on ``users``
  (``app.audiences.rules.condition``); a preview counts it, a rebuild writes its members
  (a delete of those who no longer match, an insert of those who newly do).
- **Incremental**: when a member's tags change (``app.hooks.on_tags_changed``, fired by
  the profile in the same transaction), only those members are re-evaluated, only against
  the segments that name a changed tag (``audience_segment_tags``), the same query
  restricted to them. Each member is locked (a transaction-scoped advisory lock, in one
  order) so two concurrent changes for a member cannot both evaluate a stale snapshot.
- **Rebuild**: a new rule, and time alone (weights decay, recency windows slide, tiers
  change with points), are caught up by ``rebuild`` (on a rule change, for that segment;
  ``audiences_rebuild`` job daily, ``quanzi audiences rebuild``).
- **Reading is a stored row**: ``is_member`` / ``memberships`` look up ``audience_members``.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Select, String, bindparam, delete, exists, func, insert, literal, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.audiences import rules
from app.audiences.models import AudienceMember, AudienceSegment, AudienceSegmentTag
from app.audiences.schemas import AudienceCreate, AudiencePreview, AudiencePublic, AudienceUpdate
from app.auth import service as auth
from app.db import transaction
from app.dbtypes import UTCDateTime
from app.errors import NotFound
from app.ids import new_id
from app.pagination import ID_CURSOR, Page, decode_cursor, encode_cursor
from app.runtime import Runtime

RULE: TypeAdapter[Any] = TypeAdapter(rules.Rule)


def parse(stored: dict[str, Any]) -> Any:
    return RULE.validate_python(stored)


def dump(rule: Any) -> dict[str, Any]:
    return rule.model_dump(mode="json", by_alias=True, exclude_none=True)  # type: ignore[no-any-return]


def _ids(user_ids: Sequence[str]) -> Any:
    return bindparam(None, list(user_ids), type_=ARRAY(String()))


def matching(rt: Runtime, rule: Any, *, now: datetime, among: Sequence[str] | None = None) -> Select[Any]:
    """The members matching ``rule`` as of ``now`` (ids), optionally among some: one query."""
    m = auth.members_sql().c
    q = select(m.id).where(rules.condition(rule, rt, m, now, among))
    if among is not None:
        q = q.where(m.id == func.any(_ids(among)))
    return q


# -- admin --------------------------------------------------------------------------------


async def _count(db: AsyncSession, segment_ids: Sequence[str]) -> dict[str, int]:
    if not segment_ids:
        return {}
    m = AudienceMember
    rows = await db.execute(
        select(m.segment_id, func.count()).where(m.segment_id.in_(segment_ids)).group_by(m.segment_id)  # type: ignore[attr-defined]
    )
    return {s: int(n) for s, n in rows.all()}


async def _views(db: AsyncSession, segments: Sequence[AudienceSegment]) -> list[AudiencePublic]:
    counts = await _count(db, [s.id for s in segments])
    return [
        AudiencePublic(
            id=s.id,
            name=s.name,
            description=s.description,
            rule=s.rule,
            tags=sorted(rules.tags_of(parse(s.rule))),
            members=counts.get(s.id, 0),
            created_at=s.created_at,
            updated_at=s.updated_at,
            evaluated_at=s.evaluated_at,
        )
        for s in segments
    ]


async def _require(db: AsyncSession, segment_id: str, *, lock: bool = False) -> AudienceSegment:
    q = select(AudienceSegment).where(
        AudienceSegment.id == segment_id,  # type: ignore[arg-type]
        AudienceSegment.deleted_at.is_(None),  # type: ignore[union-attr]
    )
    found = (await db.execute(q.with_for_update() if lock else q)).scalar_one_or_none()
    if found is None:
        raise NotFound("no such audience", reason="unknown_audience")
    return found


async def exists_audience(db: AsyncSession, segment_id: str) -> bool:
    """The audience exists (not deleted): for features that target one."""
    try:
        await _require(db, segment_id)
    except NotFound:
        return False
    return True


async def _index_tags(db: AsyncSession, segment_id: str, rule: Any) -> None:
    await db.execute(delete(AudienceSegmentTag).where(AudienceSegmentTag.segment_id == segment_id))  # type: ignore[arg-type]
    tags = sorted(rules.tags_of(rule))
    if tags:
        await db.execute(
            insert(AudienceSegmentTag).values([{"tag": t, "segment_id": segment_id} for t in tags])
        )


async def create(db: AsyncSession, rt: Runtime, *, admin_id: str, body: AudienceCreate) -> AudiencePublic:
    """A new segment, evaluated over every member at once. Raises ValidationFailed."""
    rules.check(body.rule)
    now = rt.clock.now()
    segment = AudienceSegment(
        id=new_id("au_"),
        name=body.name,
        description=body.description,
        rule=dump(body.rule),
        created_by=admin_id,
        created_at=now,
        updated_at=now,
    )
    async with transaction(db):
        db.add(segment)
        await db.flush()
        await _index_tags(db, segment.id, body.rule)
        await _evaluate(db, rt, segment)
    return (await _views(db, [segment]))[0]


async def update(db: AsyncSession, rt: Runtime, *, segment_id: str, body: AudienceUpdate) -> AudiencePublic:
    """Rename, describe, or change the rule (then every member is re-evaluated)."""
    if body.rule is not None:
        rules.check(body.rule)
    async with transaction(db):
        segment = await _require(db, segment_id, lock=True)
        if body.name is not None:
            segment.name = body.name
        if body.description is not None:
            segment.description = body.description
        segment.updated_at = rt.clock.now()
        if body.rule is not None:
            segment.rule = dump(body.rule)
            await db.flush()
            await _index_tags(db, segment.id, body.rule)
            await _evaluate(db, rt, segment)
    return (await _views(db, [segment]))[0]


async def remove(db: AsyncSession, rt: Runtime, *, segment_id: str) -> None:
    """Delete a segment: its members and tag index go; a campaign targeting it then
    reaches nobody. Raises NotFound."""
    async with transaction(db):
        segment = await _require(db, segment_id, lock=True)
        segment.deleted_at = rt.clock.now()
        for model in (AudienceSegmentTag, AudienceMember):
            await db.execute(delete(model).where(model.segment_id == segment_id))  # type: ignore[attr-defined]


async def get(db: AsyncSession, *, segment_id: str) -> AudiencePublic:
    return (await _views(db, [await _require(db, segment_id)]))[0]


async def list_audiences(db: AsyncSession, *, limit: int, cursor: str | None) -> Page[AudiencePublic]:
    """Segments, newest first."""
    before = decode_cursor(cursor, ID_CURSOR)
    q = select(AudienceSegment).where(AudienceSegment.deleted_at.is_(None))  # type: ignore[union-attr]
    if before is not None:
        q = q.where(AudienceSegment.id < str(before))  # type: ignore[arg-type]
    rows = list((await db.execute(q.order_by(AudienceSegment.id.desc()).limit(limit + 1))).scalars())  # type: ignore[attr-defined]
    nxt = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return Page[AudiencePublic](items=await _views(db, rows[:limit]), next_cursor=nxt)


async def preview(db: AsyncSession, rt: Runtime, *, rule: Any) -> AudiencePreview:
    """How many members a rule matches now: one counting query. Raises ValidationFailed."""
    rules.check(rule)
    now = rt.clock.now()
    size = (
        await db.execute(select(func.count()).select_from(matching(rt, rule, now=now).subquery()))
    ).scalar_one()
    return AudiencePreview(size=int(size), tags=sorted(rules.tags_of(rule)), as_of=now)


# -- evaluation -----------------------------------------------------------------------------


async def _apply(
    db: AsyncSession, rt: Runtime, segment_id: str, rule: Any, *, among: Sequence[str] | None
) -> tuple[int, int]:
    """Bring a segment's stored members in line with its rule (for ``among``, or all):
    (added, removed)."""
    now = rt.clock.now()
    found = matching(rt, rule, now=now, among=among).subquery("m")
    a = AudienceMember.__table__.c  # type: ignore[attr-defined]
    gone = delete(AudienceMember).where(a.segment_id == segment_id, ~exists().where(found.c.id == a.user_id))
    if among is not None:  # by the primary key (segment_id, user_id), not a scan of the segment
        gone = gone.where(a.user_id.in_(select(func.unnest(_ids(among)))))
    removed = (await db.execute(gone.execution_options(synchronize_session=False))).rowcount  # type: ignore[attr-defined]
    added = (
        await db.execute(
            pg_insert(AudienceMember)
            .from_select(
                ["segment_id", "user_id", "since"],
                select(literal(segment_id), found.c.id, literal(now, UTCDateTime())),
            )
            .on_conflict_do_nothing()
        )
    ).rowcount  # type: ignore[attr-defined]
    return int(added or 0), int(removed or 0)


async def _evaluate(db: AsyncSession, rt: Runtime, segment: AudienceSegment) -> tuple[int, int]:
    await db.execute(text("SET LOCAL work_mem = '64MB'"))  # hashed sub-plans over many members
    out = await _apply(db, rt, segment.id, parse(segment.rule), among=None)
    segment.evaluated_at = rt.clock.now()
    return out


async def rebuild(rt: Runtime, *, segment_id: str | None = None) -> dict[str, tuple[int, int]]:
    """Re-evaluate every member of each segment (or one), a transaction per segment:
    {segment id: (added, removed)}. For rule changes and what time alone changes."""
    async with rt.sessionmaker() as db:
        q = select(AudienceSegment.id).where(AudienceSegment.deleted_at.is_(None))  # type: ignore[union-attr]
        if segment_id is not None:
            q = q.where(AudienceSegment.id == segment_id)  # type: ignore[arg-type]
        ids = list((await db.execute(q.order_by(AudienceSegment.id))).scalars())  # type: ignore[arg-type]
    out = {}
    for sid in ids:
        async with rt.sessionmaker() as db, transaction(db):
            try:
                segment = await _require(db, sid, lock=True)
            except NotFound:
                continue
            out[sid] = await _evaluate(db, rt, segment)
    return out


async def rebuild_all(rt: Runtime) -> int:
    """The ``audiences_rebuild`` job: every segment; returns how many memberships changed."""
    return sum(a + r for a, r in (await rebuild(rt)).values())


def _lock_key(user_id: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(f"audience:{user_id}".encode(), digest_size=8).digest(), "big", signed=True
    )


async def _lock_members(db: AsyncSession, user_ids: Iterable[str]) -> None:
    """Advisory locks on these members until the transaction ends, in one global order."""
    keys = sorted({_lock_key(u) for u in user_ids})
    await db.execute(
        text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS t(k)"),
        {"keys": keys},
    )


async def tags_changed(db: AsyncSession, rt: Runtime, changed: dict[str, set[str]]) -> None:
    """``on_tags_changed``: re-evaluate these members against the segments naming a
    changed tag, and nothing else (inside the caller's transaction)."""
    all_tags = sorted(set().union(*changed.values()))
    rows = (
        await db.execute(
            select(AudienceSegmentTag.tag, AudienceSegment.id, AudienceSegment.rule)
            .join(AudienceSegment, AudienceSegment.id == AudienceSegmentTag.segment_id)  # type: ignore[arg-type]
            .where(AudienceSegmentTag.tag.in_(all_tags), AudienceSegment.deleted_at.is_(None))  # type: ignore[attr-defined, union-attr]
        )
    ).all()
    if not rows:
        return
    by_tag: dict[str, list[str]] = defaultdict(list)
    rule_of: dict[str, dict[str, Any]] = {}
    for tag, sid, rule in rows:
        by_tag[tag].append(sid)
        rule_of[sid] = rule
    members: dict[str, set[str]] = defaultdict(set)  # segment → members to re-evaluate
    for user_id, tags in changed.items():
        for tag in tags:
            for sid in by_tag.get(tag, ()):
                members[sid].add(user_id)
    await _lock_members(db, set().union(*members.values()))
    for sid in sorted(members):
        await _apply(db, rt, sid, parse(rule_of[sid]), among=sorted(members[sid]))


# -- reading (for features) ------------------------------------------------------------------


async def is_member(db: AsyncSession, *, user_id: str, segment_id: str) -> bool:
    """The member is in the segment, as stored: one primary-key lookup."""
    return segment_id in await memberships(db, user_id=user_id, segment_ids=[segment_id])


async def memberships(db: AsyncSession, *, user_id: str, segment_ids: Sequence[str]) -> set[str]:
    """Which of ``segment_ids`` the member belongs to: one indexed lookup."""
    if not segment_ids:
        return set()
    rows = await db.execute(
        select(AudienceMember.segment_id).where(
            AudienceMember.user_id == user_id,  # type: ignore[arg-type]
            AudienceMember.segment_id.in_(sorted(set(segment_ids))),  # type: ignore[attr-defined]
        )
    )
    return set(rows.scalars())


async def members_of(
    db: AsyncSession, *, segment_id: str, limit: int = 1000, after: str | None = None
) -> list[str]:
    """A segment's members (user ids, in id order, after ``after``), as stored."""
    q = select(AudienceMember.user_id).where(AudienceMember.segment_id == segment_id)  # type: ignore[arg-type]
    if after is not None:
        q = q.where(AudienceMember.user_id > after)  # type: ignore[arg-type]
    return list((await db.execute(q.order_by(AudienceMember.user_id).limit(limit))).scalars())  # type: ignore[arg-type]


# -- a member's data -------------------------------------------------------------------------


async def personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> dict[str, Any]:
    rows = await db.execute(
        select(AudienceSegment.id, AudienceSegment.name, AudienceMember.since)
        .join(AudienceMember, AudienceMember.segment_id == AudienceSegment.id)  # type: ignore[arg-type]
        .where(AudienceMember.user_id == user_id)  # type: ignore[arg-type]
        .order_by(AudienceSegment.id)  # type: ignore[arg-type]
    )
    return {"segments": [{"id": i, "name": n, "since": s.isoformat()} for i, n, s in rows.all()]}


async def erase_personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> None:
    await db.execute(delete(AudienceMember).where(AudienceMember.user_id == user_id))  # type: ignore[arg-type]
