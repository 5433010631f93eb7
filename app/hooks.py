"""In-process hooks by which core use cases let features react, inside the same transaction.

Core code must not import feature packages; a feature registers here instead (in its
``hooks.py``, imported at start-up by ``app.features.import_models``), e.g. referrals
reward the referrer when a referee first becomes a cardholder:

    hooks.on_first_card.append(reward_referrer)

Every hook runs inside the caller's unit of work (flush, never commit):

- ``on_user_created``, ``on_first_card``: ``async def hook(db, rt, user_id) -> None``;
- ``on_spending_recorded``: ``async def hook(db, rt, events: list[Spending]) ->
  SpendingEffects`` — the bank's spending events that were new (``app/events``); the
  games turn them into energy and say what they made of them;
- ``on_milestone``: ``async def hook(db, rt, milestone: Milestone) -> None`` — something a
  member achieved that other features may reward (a tree planted, a quiz streak, a
  referred friend who became a cardholder); the points feature listens. ``ref`` makes a
  milestone once: the listener rewards one (user, kind, ref) at most once.
- ``on_spending_refunded``: ``async def hook(db, rt, refund: SpendingRefund) -> None`` —
  part or all of a recorded spending event was refunded (a card payment's refund,
  ``games/campaigns``), once per refund: a listener takes back what it gave for it
  (points); energy already grown is kept.

A feature also registers its part of a member's data (``register_personal_data``): what
``GET /v1/me/export`` shows of it and how ``DELETE /v1/me`` erases it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Hook = Callable[[Any, Any, str], Awaitable[None]]

on_user_created: list[Hook] = []
on_first_card: list[Hook] = []


async def fire(hooks: list[Hook], db: Any, rt: Any, user_id: str) -> None:
    for hook in hooks:
        await hook(db, rt, user_id)


@dataclass(frozen=True, slots=True)
class Spending:
    """One bank spending event, recorded for the first time."""

    event_id: str
    user_id: str
    category: str
    amount_fen: int
    occurred_at: datetime


@dataclass
class SpendingEffects:
    """What a listener made of newly recorded spending (added up over listeners)."""

    reward_by_event: dict[str, int] = field(default_factory=dict)  # event id → what it earned (> 0)
    items_made: int = 0  # e.g. energy balls
    unknown_category: int = 0  # events whose category the listener does not know
    unrewarded: int = 0  # known category, but nothing earned (too small, over a cap)

    def add(self, other: SpendingEffects) -> None:
        self.reward_by_event.update(other.reward_by_event)
        self.items_made += other.items_made
        self.unknown_category += other.unknown_category
        self.unrewarded += other.unrewarded


SpendingHook = Callable[[Any, Any, list[Spending]], Awaitable[SpendingEffects]]

on_spending_recorded: list[SpendingHook] = []


async def fire_spending(db: Any, rt: Any, events: list[Spending]) -> SpendingEffects:
    total = SpendingEffects()
    for hook in on_spending_recorded:
        total.add(await hook(db, rt, events))
    return total


@dataclass(frozen=True, slots=True)
class Milestone:
    """An achievement a feature reports: ``kind`` is ``tree_planted`` (ref: the tree),
    ``quiz_streak`` (ref: the day; ``count``: right answers in a row) or
    ``referral_converted`` (ref: the referee; ``user_id`` is the referrer)."""

    user_id: str
    kind: str
    ref: str
    count: int = 1


MilestoneHook = Callable[[Any, Any, Milestone], Awaitable[None]]

on_milestone: list[MilestoneHook] = []


async def fire_milestone(db: Any, rt: Any, milestone: Milestone) -> None:
    for hook in on_milestone:
        await hook(db, rt, milestone)


# -- a member's data: export and erasure (app/profile) -----------------------------------

Exporter = Callable[[Any, Any, str], Awaitable[Any]]
Eraser = Callable[[Any, Any, str], Awaitable[None]]


@dataclass(frozen=True)
class PersonalData:
    """One feature's part of a member's data: ``export(db, rt, user_id)`` returns it as
    JSON-ready values (the section ``name`` of ``GET /v1/me/export``); ``erase(db, rt,
    user_id)`` removes or pseudonymises it inside the erasure's transaction
    (``DELETE /v1/me``), keeping what other members and the ledger need."""

    name: str
    export: Exporter
    erase: Eraser | None = None


personal_data: dict[str, PersonalData] = {}


def register_personal_data(name: str, *, export: Exporter, erase: Eraser | None = None) -> None:
    personal_data[name] = PersonalData(name, export, erase)


@dataclass(frozen=True, slots=True)
class SpendingRefund:
    """Part or all of a recorded spending event (``event_id``) given back to the cardholder."""

    event_id: str
    refund_id: str
    user_id: str
    category: str
    amount_fen: int  # what the cardholder gets back, of the event's ``amount_fen``
    event_amount_fen: int
    refunded_at: datetime


RefundHook = Callable[[Any, Any, SpendingRefund], Awaitable[None]]

on_spending_refunded: list[RefundHook] = []


async def fire_spending_refunded(db: Any, rt: Any, refund: SpendingRefund) -> None:
    for hook in on_spending_refunded:
        await hook(db, rt, refund)


# Who may see whose card (``GET /v1/users/{id}``, ``app.auth.service.access_card``):
# ``async def hook(db, viewer_id, user_id) -> bool | None``: False when the two may not
# see each other at all (a block, either way), True when they are in touch (friends,
# members of one conversation, an advisor and their client), None when the feature has
# nothing to say. Read-only; hooks are asked in order until one says False.
PersonHook = Callable[[Any, str, str], Awaitable[bool | None]]

person_relations: list[PersonHook] = []


# -- the profile's tags and scenario events (app/profile) ----------------------------------
#
# ``on_tags_changed``: ``async def hook(db, rt, changed: dict[str, set[str]]) -> None`` —
# members' tags changed (user id → the tags): evidence recorded, a tag removed, a consent
# withdrawn, inside the transaction that changed them; the audiences re-evaluate only
# those members against the segments naming those tags.
# ``on_scenario_events``: ``async def hook(db, rt, events: list[ScenarioEventSeen]) ->
# None`` — partners' scenario events accepted (consented, new), inside the ingestion's
# transaction; the cross-scenario offers listen.

TagsHook = Callable[[Any, Any, dict[str, set[str]]], Awaitable[None]]

on_tags_changed: list[TagsHook] = []


async def fire_tags_changed(db: Any, rt: Any, changed: dict[str, set[str]]) -> None:
    changed = {u: t for u, t in changed.items() if t}
    if not changed:
        return
    for hook in on_tags_changed:
        await hook(db, rt, changed)


@dataclass(frozen=True, slots=True)
class ScenarioEventSeen:
    """A partner's scenario event, accepted: new, and its member consented to its scenario."""

    event_id: str
    user_id: str
    scenario: str
    type: str
    attributes: dict[str, Any]
    occurred_at: datetime


ScenarioEventsHook = Callable[[Any, Any, list[ScenarioEventSeen]], Awaitable[None]]

on_scenario_events: list[ScenarioEventsHook] = []


async def fire_scenario_events(db: Any, rt: Any, events: list[ScenarioEventSeen]) -> None:
    if not events:
        return
    for hook in on_scenario_events:
        await hook(db, rt, events)
