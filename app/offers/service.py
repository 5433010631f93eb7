"""Cross-scenario offers: rules, issuing on partners' events, a member's offers.

- **Consent gates it**: only an accepted event counts (its member consented to its
  scenario: ``app.profile``), and only if the member also consented to the offer's
  scenario (the offer is used there). No consent, no offer.
- **Once per member per rule**: ``offers (rule_id, user_id)`` is unique; an insert that
  meets it does nothing.
- **A weekly cap across all offers**: at most ``offers_per_week`` per member from Monday
  00:00 (the bank's time zone, the injectable clock). Concurrent events for a member are
  serialised by a transaction-scoped advisory lock on the member, so the count is exact.
- **A notification too**: each offer lands in the message center (kind ``offer``).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import transaction
from app.errors import NotFound, ValidationFailed
from app.hooks import ScenarioEventSeen
from app.ids import new_id
from app.notifications import service as notifications
from app.offers.models import Offer, OfferRule
from app.offers.schemas import OfferPublic, OfferRuleCreate, OfferRulePublic
from app.pagination import ID_CURSOR, Page, decode_cursor, encode_cursor
from app.profile import registry
from app.profile import service as profile
from app.runtime import Runtime

NOTIFICATION_KIND = "offer"


# -- rules (admins) ---------------------------------------------------------------------------


def _check(body: OfferRuleCreate) -> None:
    for field, scenario in (("scenario", body.scenario), ("offer_scenario", body.offer_scenario)):
        found = registry.SCENARIOS.get(scenario)
        if found is None or found.kind != "partner":
            raise ValidationFailed(
                f"no partner scenario {scenario!r}", field=field, reason="unknown_scenario"
            )
    if body.offer_scenario == body.scenario:
        raise ValidationFailed(
            "the offer is for another scenario", field="offer_scenario", reason="same_scenario"
        )
    spec = registry.SCENARIOS[body.scenario].events.get(body.event_type)
    if spec is None:
        raise ValidationFailed(
            f"{body.scenario!r} has no event type {body.event_type!r}",
            field="event_type",
            reason="unknown_type",
        )
    for name, value in body.match.items():
        attr = spec.attributes.get(name)
        if attr is None:
            raise ValidationFailed(
                f"{body.event_type!r} has no attribute {name!r}", field="match", reason="unknown_attribute"
            )
        if not isinstance(value, attr.type):
            raise ValidationFailed(
                f"attribute {name!r} is a {attr.type.__name__}", field="match", reason="bad_attribute"
            )


def _rule_public(r: OfferRule, issued: int) -> OfferRulePublic:
    return OfferRulePublic(
        id=r.id,
        name=r.name,
        scenario=r.scenario,
        event_type=r.event_type,
        match=r.match,
        offer_scenario=r.offer_scenario,
        title=r.title,
        body=r.body,
        code=r.code,
        valid_days=r.valid_days,
        active=r.active,
        issued=issued,
        created_at=r.created_at,
    )


async def _issued(db: AsyncSession, rule_ids: Sequence[str]) -> dict[str, int]:
    if not rule_ids:
        return {}
    rows = await db.execute(
        select(Offer.rule_id, func.count()).where(Offer.rule_id.in_(rule_ids)).group_by(Offer.rule_id)  # type: ignore[attr-defined]
    )
    return {r: int(n) for r, n in rows.all()}


async def create_rule(
    db: AsyncSession, rt: Runtime, *, admin_id: str, body: OfferRuleCreate
) -> OfferRulePublic:
    """A new active rule. Raises ValidationFailed (scenarios, event type, attributes)."""
    _check(body)
    rule = OfferRule(id=new_id("or_"), created_by=admin_id, created_at=rt.clock.now(), **body.model_dump())
    async with transaction(db):
        db.add(rule)
    return _rule_public(rule, 0)


async def list_rules(db: AsyncSession, *, limit: int, cursor: str | None) -> Page[OfferRulePublic]:
    before = decode_cursor(cursor, ID_CURSOR)
    q = select(OfferRule)
    if before is not None:
        q = q.where(OfferRule.id < str(before))  # type: ignore[arg-type]
    rows = list((await db.execute(q.order_by(OfferRule.id.desc()).limit(limit + 1))).scalars())  # type: ignore[attr-defined]
    counts = await _issued(db, [r.id for r in rows[:limit]])
    nxt = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return Page[OfferRulePublic](
        items=[_rule_public(r, counts.get(r.id, 0)) for r in rows[:limit]], next_cursor=nxt
    )


async def deactivate_rule(db: AsyncSession, *, rule_id: str) -> None:
    """Stop issuing under a rule (offers already issued stay). Raises NotFound."""
    async with transaction(db):
        done = await db.execute(update(OfferRule).where(OfferRule.id == rule_id).values(active=False))  # type: ignore[arg-type]
        if not done.rowcount:  # type: ignore[attr-defined]
            raise NotFound("no such offer rule", reason="unknown_offer_rule")


# -- issuing ------------------------------------------------------------------------------------


def _folded(value: Any) -> Any:
    return registry.tag_value(value) if isinstance(value, str) else value


def matches(rule: OfferRule, e: ScenarioEventSeen) -> bool:
    return all(_folded(e.attributes.get(k)) == _folded(v) for k, v in rule.match.items())


def week_start(rt: Runtime, now: datetime) -> datetime:
    """Monday 00:00 of ``now``'s week in the bank's time zone."""
    local = rt.clock.local(now)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday, time(0), tzinfo=local.tzinfo)


def _lock_key(user_id: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(f"offers:{user_id}".encode(), digest_size=8).digest(), "big", signed=True
    )


async def on_scenario_events(db: AsyncSession, rt: Runtime, events: list[ScenarioEventSeen]) -> None:
    """``on_scenario_events``: issue what the accepted events earn, in the ingestion's
    transaction (once per member per rule, under the weekly cap)."""
    pairs = sorted({(e.scenario, e.type) for e in events})
    rules = list(
        (
            await db.execute(
                select(OfferRule)
                .where(OfferRule.active, tuple_(OfferRule.scenario, OfferRule.event_type).in_(pairs))  # type: ignore[arg-type]
                .order_by(OfferRule.id)  # type: ignore[arg-type]
            )
        ).scalars()
    )
    if not rules:
        return
    wanted: dict[str, list[tuple[OfferRule, ScenarioEventSeen]]] = defaultdict(list)
    for e in sorted(events, key=lambda e: (e.occurred_at, e.event_id)):
        for r in rules:
            if r.scenario == e.scenario and r.event_type == e.type and matches(r, e):
                wanted[e.user_id].append((r, e))
    if not wanted:
        return
    allowed = await profile.consented(
        db, {(u, r.offer_scenario) for u, found in wanted.items() for r, _ in found}
    )
    wanted = {
        u: [(r, e) for r, e in found if (u, r.offer_scenario) in allowed] for u, found in wanted.items()
    }
    wanted = {u: found for u, found in wanted.items() if found}
    if not wanted:
        return
    now = rt.clock.now()
    cap = rt.settings.offers_per_week
    keys = sorted({_lock_key(u) for u in wanted})
    await db.execute(
        text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS t(k)"),
        {"keys": keys},
    )
    since = week_start(rt, now)
    this_week: dict[str, int] = dict(
        (
            await db.execute(
                select(Offer.user_id, func.count())
                .where(Offer.user_id.in_(sorted(wanted)), Offer.issued_at >= since)  # type: ignore[attr-defined, operator]
                .group_by(Offer.user_id)
            )
        ).all()
    )
    for user_id in sorted(wanted):
        count = int(this_week.get(user_id, 0))
        for r, e in wanted[user_id]:
            if count >= cap:
                break
            expires_at = now + timedelta(days=r.valid_days)
            offer: dict[str, Any] = {
                "id": new_id("of_"),
                "rule_id": r.id,
                "user_id": user_id,
                "event_id": e.event_id,
                "scenario": r.offer_scenario,
                "title": r.title,
                "body": r.body,
                "code": r.code,
                "issued_at": now,
                "expires_at": expires_at,
            }
            got = (
                await db.execute(insert(Offer).values(offer).on_conflict_do_nothing().returning(Offer.id))  # type: ignore[arg-type]
            ).scalar_one_or_none()
            if got is None:
                continue  # this rule already gave this member its offer
            count += 1
            await notifications.notify(
                db,
                rt,
                user_id=user_id,
                kind=NOTIFICATION_KIND,
                data={
                    "offer_id": got,
                    "title": r.title,
                    "scenario": r.offer_scenario,
                    "code": r.code,
                    "expires_at": expires_at.isoformat(),
                },
            )


# -- a member's offers -----------------------------------------------------------------------


def _public(o: Offer, because: str) -> OfferPublic:
    return OfferPublic(
        id=o.id,
        rule_id=o.rule_id,
        scenario=o.scenario,
        title=o.title,
        body=o.body,
        code=o.code,
        because=because,
        issued_at=o.issued_at,
        expires_at=o.expires_at,
    )


async def my_offers(db: AsyncSession, *, user_id: str, limit: int, cursor: str | None) -> Page[OfferPublic]:
    """My offers, newest first."""
    before = decode_cursor(cursor, ID_CURSOR)
    q = (
        select(Offer, OfferRule.scenario)
        .join(OfferRule, OfferRule.id == Offer.rule_id)  # type: ignore[arg-type]
        .where(Offer.user_id == user_id)  # type: ignore[arg-type]
    )
    if before is not None:
        q = q.where(Offer.id < str(before))  # type: ignore[arg-type]
    rows = (await db.execute(q.order_by(Offer.id.desc()).limit(limit + 1))).all()  # type: ignore[attr-defined]
    nxt = encode_cursor(rows[limit - 1][0].id) if len(rows) > limit else None
    return Page[OfferPublic](items=[_public(o, s) for o, s in rows[:limit]], next_cursor=nxt)


async def personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> dict[str, Any]:
    page = await my_offers(db, user_id=user_id, limit=10_000, cursor=None)
    return {"offers": [o.model_dump(mode="json") for o in page.items]}


async def erase_personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> None:
    await db.execute(delete(Offer).where(Offer.user_id == user_id))  # type: ignore[arg-type]
