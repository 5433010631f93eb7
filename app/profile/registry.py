"""The scenarios a member can consent to and the event types partners may push for each.

A partner scenario (``kind="partner"``) accepts the event types listed here, each with
its attributes (type, required) and the tags it feeds: a template over the attributes
(``"genre:{genre}"``) and a weight per event. The bank's own sources (``kind="bank"``:
card spending, games, content) take no partner events; the platform and the features
record their evidence themselves, under the same consent.

An event is checked against this registry (``check_event``); what is wrong is returned
as a reason code, so the rest of a batch is still accepted.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

# A partner's clock may run a little ahead of ours.
FUTURE_SLACK = timedelta(minutes=5)
TAG_VALUE_MAX = 64


@dataclass(frozen=True)
class Attr:
    type: type[str] | type[int] | type[bool]
    required: bool = False


@dataclass(frozen=True)
class EventType:
    attributes: dict[str, Attr]
    tags: tuple[str, ...]  # "kind:{attribute}"; an absent optional attribute makes none
    action: str  # the verb shown in "why": watched, ordered, …
    why: str  # "{count}" and "{label}" are filled in when shown
    weight: float = 1.0


@dataclass(frozen=True)
class Scenario:
    id: str
    name: str
    description: str
    kind: Literal["partner", "bank"]
    events: dict[str, EventType] = field(default_factory=dict)


SCENARIOS: dict[str, Scenario] = {
    s.id: s
    for s in (
        Scenario(
            "video",
            "视频 · video partner",
            "What you watch on the video partner's app: series and genres.",
            "partner",
            {
                "watched": EventType(
                    {"series": Attr(str, required=True), "genre": Attr(str), "minutes": Attr(int)},
                    ("series:{series}", "genre:{genre}"),
                    "watched",
                    "you watched {label} {count} times on the video partner",
                ),
                "favourited": EventType(
                    {"series": Attr(str, required=True), "genre": Attr(str)},
                    ("series:{series}", "genre:{genre}"),
                    "favourited",
                    "you saved {label} {count} times on the video partner",
                    weight=2.0,
                ),
            },
        ),
        Scenario(
            "food_delivery",
            "外卖 · food delivery partner",
            "What you order on the food delivery partner's app.",
            "partner",
            {
                "ordered": EventType(
                    {"cuisine": Attr(str, required=True), "amount_fen": Attr(int)},
                    ("cuisine:{cuisine}",),
                    "ordered",
                    "you ordered {label} {count} times",
                )
            },
        ),
        Scenario(
            "transit",
            "出行 · transit partner",
            "Rides you take with the transit partner.",
            "partner",
            {
                "ride": EventType(
                    {"mode": Attr(str, required=True), "city": Attr(str)},
                    ("commute:{mode}",),
                    "rode",
                    "you took {count} rides by {label}",
                )
            },
        ),
        Scenario(
            "shopping",
            "购物 · shopping partner",
            "What you look at and buy on the shopping partner's app.",
            "partner",
            {
                "viewed": EventType(
                    {"category": Attr(str, required=True), "item": Attr(str)},
                    ("shopping:{category}",),
                    "viewed",
                    "you looked at {label} {count} times",
                    weight=0.5,
                ),
                "purchased": EventType(
                    {"category": Attr(str, required=True), "item": Attr(str), "amount_fen": Attr(int)},
                    ("shopping:{category}",),
                    "purchased",
                    "you bought {label} {count} times",
                    weight=3.0,
                ),
            },
        ),
        Scenario("card", "银行卡消费 · card spending", "The categories of your card spending.", "bank"),
        Scenario("games", "游戏 · games", "How you play the forest, the farm and the quiz.", "bank"),
        Scenario("content", "内容 · content", "Topics of the posts you read, like and write.", "bank"),
        Scenario(
            "wallet",
            "钱包收支 · wallet flows",
            "Money in and out of your wallet, for your savings rate in 'users like you'.",
            "bank",
        ),
        Scenario(
            "investments",
            "投资配置 · investments",
            "How the bank says your investments are spread, for 'users like you'.",
            "bank",
        ),
    )
}


def tag_value(raw: str) -> str:
    """A tag's value from free text: NFKC, case-folded, blanks as ``_``, at most 64 chars."""
    text = unicodedata.normalize("NFKC", raw).casefold().strip()
    return "_".join(text.split())[:TAG_VALUE_MAX]


def tags_of(event_type: EventType, attributes: dict[str, Any]) -> list[str]:
    """The tags an event of this type feeds, from its attributes."""
    found = []
    for template in event_type.tags:
        kind, _, placeholder = template.partition(":")
        value = attributes.get(placeholder.strip("{}"))
        if isinstance(value, str) and tag_value(value):
            found.append(f"{kind}:{tag_value(value)}")
    return found


def check_event(
    scenario: str, type_: str, attributes: dict[str, Any], occurred_at: datetime, now: datetime
) -> tuple[str, str] | None:
    """None when the event fits the registry, else (reason code, message)."""
    found = SCENARIOS.get(scenario)
    if found is None:
        return "unknown_scenario", f"no scenario {scenario!r}"
    if found.kind != "partner":
        return "not_a_partner_scenario", f"{scenario!r} takes no partner events"
    spec = found.events.get(type_)
    if spec is None:
        return "unknown_type", f"{scenario!r} has no event type {type_!r}"
    for name, value in attributes.items():
        attr = spec.attributes.get(name)
        if attr is None:
            return "unknown_attribute", f"{type_!r} has no attribute {name!r}"
        ok = isinstance(value, attr.type) and not (attr.type is int and isinstance(value, bool))
        if attr.type is str and ok and not 1 <= len(value) <= 200:
            ok = False
        if attr.type is int and ok and not 0 <= value <= 10**12:
            ok = False
        if not ok:
            return "bad_attribute", f"attribute {name!r} must be a {attr.type.__name__} in range"
    for name, attr in spec.attributes.items():
        if attr.required and name not in attributes:
            return "missing_attribute", f"attribute {name!r} is required"
    if occurred_at > now + FUTURE_SLACK:
        return "occurred_in_future", "occurred_at is in the future"
    return None
