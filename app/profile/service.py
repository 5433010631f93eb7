"""Consents, scenario events and tags: the one place that decides what is known about a
member and why.

- **Consent gates every path.** ``record`` (tags from the bank's own sources, used by the
  platform and the features) and ``ingest_events`` (partners' events) keep nothing for a
  member who has not granted the source's scenario: the event is counted and dropped.
- **Withdrawing deletes what was derived**: the scenario's events and every tag evidence
  from it, in the same transaction that records the withdrawal.
- **Weights decay without rescans**: a row keeps (weight, updated_at); reading decays it
  to now (``app.profile.decay``) and new evidence adds to the decayed value in one upsert.
- **A removed tag stays removed**: it is not derived again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, String, and_, bindparam, delete, func, literal, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import hooks
from app.db import transaction
from app.dbtypes import UTCDateTime
from app.errors import NotFound, ValidationFailed
from app.profile import registry
from app.profile.decay import decayed
from app.profile.models import Consent, ScenarioEvent, TagEvidence, TagRemoval
from app.profile.schemas import (
    ConsentChange,
    ConsentPublic,
    EventOutcome,
    ProfilePublic,
    ScenarioBatchResult,
    ScenarioEventIn,
    TagPublic,
    TagSource,
)
from app.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Evidence:
    """One piece of evidence for a tag: ``user_id`` did ``action`` (counted once, worth
    ``weight`` at ``at``) in ``source`` (a scenario of ``app.profile.registry``); ``why``
    is shown to the member with ``{count}`` and ``{label}`` filled in."""

    user_id: str
    tag: str
    source: str
    action: str
    why: str
    at: datetime
    weight: float = 1.0


def half_life_s(rt: Runtime) -> float:
    return rt.settings.profile_tag_half_life_days * 86_400


# -- consents -----------------------------------------------------------------------------


async def consented(db: AsyncSession, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (user_id, scenario) pairs among ``pairs`` whose consent is granted."""
    wanted = set(pairs)
    if not wanted:
        return set()
    rows = await db.execute(
        select(Consent.user_id, Consent.scenario).where(
            Consent.granted,  # type: ignore[arg-type]
            tuple_(Consent.user_id, Consent.scenario).in_(sorted(wanted)),
        )
    )
    return {(u, s) for u, s in rows.all()}


async def consents(db: AsyncSession, *, user_id: str) -> list[ConsentPublic]:
    """Every scenario, with the member's choice (not granted until they say so)."""
    rows = {
        c.scenario: c for c in (await db.execute(select(Consent).where(Consent.user_id == user_id))).scalars()
    }
    items = []
    for s in registry.SCENARIOS.values():
        c = rows.get(s.id)
        items.append(
            ConsentPublic(
                scenario=s.id,
                name=s.name,
                description=s.description,
                kind=s.kind,
                granted=bool(c and c.granted),
                share_with_advisor=bool(c and c.granted and c.share_with_advisor),
                updated_at=c.updated_at if c else None,
            )
        )
    return items


async def set_consents(
    db: AsyncSession, rt: Runtime, *, user_id: str, changes: Sequence[ConsentChange]
) -> list[ConsentPublic]:
    """Grant or withdraw consent per scenario; withdrawing deletes the scenario's events
    and the tag evidence derived from it. Raises ValidationFailed (unknown scenario, a
    scenario twice, sharing without consent)."""
    seen: set[str] = set()
    for change in changes:
        if change.scenario not in registry.SCENARIOS:
            raise ValidationFailed(
                f"no scenario {change.scenario!r}", field="scenario", reason="unknown_scenario"
            )
        if change.scenario in seen:
            raise ValidationFailed(f"{change.scenario!r} given twice", field="scenario")
        if change.share_with_advisor and not change.granted:
            raise ValidationFailed(
                "sharing with your advisor needs consent to the scenario", field="share_with_advisor"
            )
        seen.add(change.scenario)
    now = rt.clock.now()
    async with transaction(db):
        for change in sorted(changes, key=lambda c: c.scenario):
            stmt = insert(Consent).values(
                user_id=user_id,
                scenario=change.scenario,
                granted=change.granted,
                share_with_advisor=change.share_with_advisor,
                updated_at=now,
            )
            await db.execute(
                stmt.on_conflict_do_update(
                    index_elements=["user_id", "scenario"],
                    set_={
                        "granted": stmt.excluded.granted,
                        "share_with_advisor": stmt.excluded.share_with_advisor,
                        "updated_at": stmt.excluded.updated_at,
                    },
                )
            )
        withdrawn = [c.scenario for c in changes if not c.granted]
        if withdrawn:
            await _forget(db, rt, user_id=user_id, scenarios=withdrawn)
    return await consents(db, user_id=user_id)


async def _forget(db: AsyncSession, rt: Runtime, *, user_id: str, scenarios: list[str]) -> None:
    await db.execute(
        delete(ScenarioEvent).where(
            ScenarioEvent.user_id == user_id,  # type: ignore[arg-type]
            ScenarioEvent.scenario.in_(scenarios),  # type: ignore[attr-defined]
        )
    )
    gone = await db.execute(
        delete(TagEvidence)
        .where(
            TagEvidence.user_id == user_id,  # type: ignore[arg-type]
            TagEvidence.source.in_(scenarios),  # type: ignore[attr-defined]
        )
        .returning(TagEvidence.tag)  # type: ignore[arg-type]
    )
    await hooks.fire_tags_changed(db, rt, {user_id: set(gone.scalars())})


# -- evidence -----------------------------------------------------------------------------


async def record(db: AsyncSession, rt: Runtime, evidence: Sequence[Evidence]) -> int:
    """Add evidence to the members' tags, inside the caller's transaction: only where the
    member consented to its source, never for a tag they removed. Returns how many
    pieces were kept."""
    if not evidence:
        return 0
    allowed = await consented(db, {(e.user_id, e.source) for e in evidence})
    kept = [e for e in evidence if (e.user_id, e.source) in allowed]
    if not kept:
        return 0
    removed = set(
        (
            await db.execute(
                select(TagRemoval.user_id, TagRemoval.tag).where(
                    tuple_(TagRemoval.user_id, TagRemoval.tag).in_(sorted({(e.user_id, e.tag) for e in kept}))
                )
            )
        ).all()
    )
    kept = [e for e in kept if (e.user_id, e.tag) not in removed]
    if not kept:
        return 0
    now = rt.clock.now()
    hl = half_life_s(rt)
    grouped: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for e in kept:
        key = (e.user_id, e.tag, e.source, e.action)
        at = min(e.at, now)
        row = grouped.setdefault(
            key,
            {
                "user_id": e.user_id,
                "tag": e.tag,
                "source": e.source,
                "action": e.action,
                "count": 0,
                "weight": 0.0,
                "why": e.why,
                "updated_at": now,
                "last_at": at,
            },
        )
        row["count"] += 1
        row["weight"] += decayed(e.weight, since=at, now=now, half_life_s=hl)
        row["last_at"] = max(row["last_at"], at)
    rows = [grouped[k] for k in sorted(grouped)]  # one lock order: concurrent batches cannot deadlock
    stmt = insert(TagEvidence).values(rows)
    t = TagEvidence.__table__.c  # type: ignore[attr-defined]
    age = func.greatest(0.0, func.extract("epoch", stmt.excluded.updated_at - t.updated_at))
    await db.execute(
        stmt.on_conflict_do_update(
            index_elements=["user_id", "tag", "source", "action"],
            set_={
                "weight": t.weight * func.power(0.5, age / hl) + stmt.excluded.weight,
                "count": t.count + stmt.excluded.count,
                "why": stmt.excluded.why,
                "updated_at": func.greatest(t.updated_at, stmt.excluded.updated_at),
                "last_at": func.greatest(t.last_at, stmt.excluded.last_at),
            },
        )
    )
    changed: dict[str, set[str]] = defaultdict(set)
    for e in kept:
        changed[e.user_id].add(e.tag)
    await hooks.fire_tags_changed(db, rt, changed)
    return len(kept)


def tag_holders_sql(
    rt: Runtime,
    *,
    tag: str,
    min_weight: float,
    within_days: int | None,
    now: datetime,
    among: Sequence[str] | None = None,
) -> Select[Any]:
    """The members holding ``tag`` with a weight (decayed to ``now``, summed over its
    sources) of at least ``min_weight`` (> 0) and, with ``within_days``, evidence that
    happened in the last so many days: one grouped query over the tag's rows (for
    audiences); with ``among``, only those members are looked at."""
    e = TagEvidence.__table__.c  # type: ignore[attr-defined]
    age = func.greatest(0.0, func.extract("epoch", literal(now, UTCDateTime()) - e.updated_at))
    having = [func.sum(e.weight * func.power(0.5, age / half_life_s(rt))) >= max(min_weight, 1e-9)]
    if within_days is not None:
        having.append(func.max(e.last_at) >= now - timedelta(days=within_days))
    q = select(e.user_id).where(e.tag == tag)
    if among is not None:
        q = q.where(e.user_id == func.any(bindparam(None, list(among), type_=ARRAY(String()))))
    return q.group_by(e.user_id).having(and_(*having))


# -- partners' scenario events ------------------------------------------------------------


async def ingest_events(
    db: AsyncSession, rt: Runtime, *, events: Sequence[ScenarioEventIn]
) -> ScenarioBatchResult:
    """Check each event against the registry, keep the new ones whose member consented to
    the scenario, and turn them into tag evidence, in one transaction. An event that does
    not fit is rejected with its reason; the rest of the batch is still taken. A member
    without consent and an unknown member look the same to the partner (``no_consent``)."""
    now = rt.clock.now()
    outcomes: dict[int, EventOutcome] = {}
    first: dict[str, int] = {}
    candidates: list[tuple[int, ScenarioEventIn]] = []
    for i, e in enumerate(events):
        if e.event_id in first:
            outcomes[i] = EventOutcome(event_id=e.event_id, status="duplicate")
            continue
        first[e.event_id] = i
        problem = registry.check_event(e.scenario, e.type, e.attributes, e.occurred_at, now)
        if problem is not None:
            outcomes[i] = EventOutcome(
                event_id=e.event_id, status="rejected", reason=problem[0], message=problem[1]
            )
            continue
        candidates.append((i, e))
    async with transaction(db):
        allowed = await consented(db, {(e.user_id, e.scenario) for _, e in candidates})
        rows = []
        for i, e in candidates:
            if (e.user_id, e.scenario) not in allowed:
                outcomes[i] = EventOutcome(event_id=e.event_id, status="no_consent")
                continue
            rows.append(
                {
                    "event_id": e.event_id,
                    "user_id": e.user_id,
                    "scenario": e.scenario,
                    "type": e.type,
                    "attributes": e.attributes,
                    "occurred_at": e.occurred_at,
                    "received_at": now,
                }
            )
        inserted: set[str] = set()
        if rows:
            inserted = set(
                (
                    await db.execute(
                        insert(ScenarioEvent)
                        .values(rows)
                        .on_conflict_do_nothing()
                        .returning(ScenarioEvent.event_id)  # type: ignore[arg-type]
                    )
                ).scalars()
            )
        evidence = []
        for i, e in candidates:
            if i in outcomes:
                continue
            if e.event_id not in inserted:
                outcomes[i] = EventOutcome(event_id=e.event_id, status="duplicate")
                continue
            outcomes[i] = EventOutcome(event_id=e.event_id, status="accepted")
            spec = registry.SCENARIOS[e.scenario].events[e.type]
            evidence += [
                Evidence(e.user_id, tag, e.scenario, spec.action, spec.why, e.occurred_at, spec.weight)
                for tag in registry.tags_of(spec, e.attributes)
            ]
        await record(db, rt, evidence)
        await hooks.fire_scenario_events(
            db,
            rt,
            [
                hooks.ScenarioEventSeen(
                    e.event_id, e.user_id, e.scenario, e.type, e.attributes, e.occurred_at
                )
                for i, e in candidates
                if outcomes[i].status == "accepted"
            ],
        )
    results = [outcomes[i] for i in range(len(events))]

    def count(status: str) -> int:
        return sum(1 for r in results if r.status == status)

    return ScenarioBatchResult(
        received=len(events),
        accepted=count("accepted"),
        duplicates=count("duplicate"),
        no_consent=count("no_consent"),
        rejected=count("rejected"),
        results=results,
    )


# -- the profile ----------------------------------------------------------------------------


def _label(tag: str) -> str:
    return tag.partition(":")[2].replace("_", " ")


# built once: the feed reads it for every "for you" page
_TAG_WEIGHTS = select(TagEvidence.tag, TagEvidence.weight, TagEvidence.updated_at).where(
    TagEvidence.user_id == bindparam("user_id"),  # type: ignore[arg-type]
    func.split_part(TagEvidence.tag, ":", 1) == bindparam("kind"),
)


async def tag_weights(db: AsyncSession, rt: Runtime, *, user_id: str, kind: str) -> dict[str, float]:
    """The weights of the member's tags of one kind (``topic`` → {"funds": 3.2, …}), decayed
    to now and rounded as ``profile`` shows them; only those above 0. The feed's cheap read
    of the same figures (no sources, no models)."""
    now = rt.clock.now()
    hl = half_life_s(rt)
    sums: dict[str, float] = defaultdict(float)
    for tag, weight, updated_at in (await db.execute(_TAG_WEIGHTS, {"user_id": user_id, "kind": kind})).all():
        sums[tag.partition(":")[2]] += round(decayed(weight, since=updated_at, now=now, half_life_s=hl), 4)
    return {name: w for name, total in sums.items() if (w := round(total, 4)) > 0}


async def profile(db: AsyncSession, rt: Runtime, *, user_id: str, shared_only: bool = False) -> ProfilePublic:
    """Every tag held about the member, its weight decayed to now and why; with
    ``shared_only``, only evidence from scenarios the member shares with their advisor."""
    now = rt.clock.now()
    hl = half_life_s(rt)
    query = select(TagEvidence).where(TagEvidence.user_id == user_id)  # type: ignore[arg-type]
    if shared_only:
        query = query.join(
            Consent,
            and_(
                Consent.user_id == TagEvidence.user_id,  # type: ignore[arg-type]
                Consent.scenario == TagEvidence.source,  # type: ignore[arg-type]
            ),
        ).where(Consent.granted, Consent.share_with_advisor)  # type: ignore[arg-type]
    by_tag: dict[str, list[TagSource]] = defaultdict(list)
    for row in (await db.execute(query)).scalars():
        label = _label(row.tag)
        by_tag[row.tag].append(
            TagSource(
                scenario=row.source,
                action=row.action,
                count=row.count,
                weight=round(decayed(row.weight, since=row.updated_at, now=now, half_life_s=hl), 4),
                last_at=row.last_at,
                why=row.why.format(count=row.count, label=label),
            )
        )
    tags = [
        TagPublic(
            tag=tag,
            kind=tag.partition(":")[0],
            label=_label(tag),
            weight=round(sum(s.weight for s in sources), 4),
            sources=sorted(sources, key=lambda s: -s.weight),
        )
        for tag, sources in by_tag.items()
    ]
    tags.sort(key=lambda t: (-t.weight, t.tag))
    return ProfilePublic(
        user_id=user_id, as_of=now, half_life_days=rt.settings.profile_tag_half_life_days, tags=tags
    )


async def remove_tag(db: AsyncSession, rt: Runtime, *, user_id: str, tag: str) -> None:
    """Forget a tag and never derive it again. Raises NotFound (no such tag held)."""
    async with transaction(db):
        gone = await db.execute(
            delete(TagEvidence).where(TagEvidence.user_id == user_id, TagEvidence.tag == tag)  # type: ignore[arg-type]
        )
        if not gone.rowcount:  # type: ignore[attr-defined]
            raise NotFound("no such tag in your profile", tag=tag)
        await db.execute(
            insert(TagRemoval)
            .values(user_id=user_id, tag=tag, removed_at=rt.clock.now())
            .on_conflict_do_nothing()
        )
        await hooks.fire_tags_changed(db, rt, {user_id: {tag}})


# -- a member's data --------------------------------------------------------------------------


async def personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> dict[str, Any]:
    """What this module holds about a member (their export's ``profile`` section)."""
    events = (
        await db.execute(
            select(ScenarioEvent)
            .where(ScenarioEvent.user_id == user_id)  # type: ignore[arg-type]
            .order_by(ScenarioEvent.occurred_at, ScenarioEvent.event_id)  # type: ignore[arg-type]
        )
    ).scalars()
    removals = (
        await db.execute(select(TagRemoval).where(TagRemoval.user_id == user_id))  # type: ignore[arg-type]
    ).scalars()
    return {
        "consents": [c.model_dump(mode="json") for c in await consents(db, user_id=user_id)],
        "scenario_events": [
            {
                "event_id": e.event_id,
                "scenario": e.scenario,
                "type": e.type,
                "attributes": e.attributes,
                "occurred_at": e.occurred_at.isoformat(),
                "received_at": e.received_at.isoformat(),
            }
            for e in events
        ],
        "tags": (await profile(db, rt, user_id=user_id)).model_dump(mode="json")["tags"],
        "removed_tags": [{"tag": r.tag, "removed_at": r.removed_at.isoformat()} for r in removals],
    }


async def erase_personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> None:
    """Delete every consent, event, tag and removal of a member (inside the erasure)."""
    for model in (ScenarioEvent, TagEvidence, TagRemoval, Consent):
        await db.execute(delete(model).where(model.user_id == user_id))  # type: ignore[attr-defined]


def consent_flags(scenarios: Sequence[str]) -> Select[Any]:
    """One row per member who granted any of ``scenarios``: ``(user_id, <scenario>: bool,
    …)``, a selectable for set-based statements (the nightly insights job)."""
    return (
        select(
            Consent.user_id,
            *(func.bool_or(Consent.scenario == s).label(s) for s in scenarios),
        )
        .where(col(Consent.granted), col(Consent.scenario).in_(list(scenarios)))
        .group_by(Consent.user_id)
    )
