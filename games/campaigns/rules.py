"""Pure campaign rules: does a card payment qualify, what discount it gets, which is best.

A campaign (``Rule``) gives one of three discounts to a payment of at least
``min_amount_fen``:

- ``threshold`` — 满100减10: ``discount_fen`` off once the amount reaches the threshold;
- ``percent`` — ``rate_bp`` basis points of the amount (500 = 5 %), at most ``cap_fen``;
- ``random`` — a whole number of fen drawn uniformly in ``[min_discount_fen, max_discount_fen]``.

It may be limited to card products, merchant categories (MCC), merchants, channels, days
of the week (ISO, 1 = Monday) and times of day, all in the bank's zone; an empty limit
means "any". A discount never exceeds the amount. ``Catalogue`` indexes the active
campaigns by MCC so a quote looks at the campaigns that may apply, not all of them.

No I/O here: the caller passes the local time and the random source.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


class DiscountKind(StrEnum):
    THRESHOLD = "threshold"
    PERCENT = "percent"
    RANDOM = "random"


class Per(StrEnum):
    """How often a cardholder may get a campaign: once, or once per business day."""

    CAMPAIGN = "campaign"
    DAY = "day"


class Channel(StrEnum):
    """Where the card was used."""

    POS = "pos"  # card present at a terminal
    QR = "qr"  # the cardholder scanned or showed a QR code
    ONLINE = "online"  # e-commerce, card not present
    IN_APP = "in_app"  # a payment inside the bank's own app


def spending_category(channel: Channel) -> str:
    """The bank-event category (``/v1/events/spending``) of a payment on ``channel``."""
    return "online_payment" if channel in (Channel.ONLINE, Channel.IN_APP) else "offline_payment"


@dataclass(frozen=True, slots=True)
class Rule:
    """One campaign as a quote sees it (the ``campaigns`` row, compiled)."""

    id: str
    name: str
    kind: DiscountKind
    min_amount_fen: int
    discount_fen: int = 0  # threshold
    rate_bp: int = 0  # percent
    cap_fen: int = 0  # percent
    min_discount_fen: int = 0  # random
    max_discount_fen: int = 0  # random
    card_products: frozenset[str] = frozenset()
    mccs: frozenset[str] = frozenset()
    merchant_ids: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    days_of_week: frozenset[int] = frozenset()
    # minutes after local midnight, [start, end); end < start crosses midnight
    time_windows: tuple[tuple[int, int], ...] = ()
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    per: Per = Per.CAMPAIGN
    total_budget_fen: int = 0
    daily_budget_fen: int | None = None
    hold_s: int = 900
    description: str = ""
    audience_id: str | None = None  # only members of this audience (app.audiences)


@dataclass(frozen=True, slots=True)
class Payment:
    """What the payment switch tells about a card payment being authorised."""

    amount_fen: int
    mcc: str
    merchant_id: str
    channel: str
    card_product: str | None


def in_windows(windows: Sequence[tuple[int, int]], minute: int) -> bool:
    """``minute`` (after local midnight) falls in one of the windows; no windows: always."""
    if not windows:
        return True
    for start, end in windows:
        if (start <= minute < end) if start < end else (minute >= start or minute < end):
            return True
    return False


def live(rule: Rule, now: datetime) -> bool:
    """The campaign runs at ``now`` (its dates only; days and hours are ``applies``)."""
    return (rule.starts_at is None or rule.starts_at <= now) and (rule.ends_at is None or now < rule.ends_at)


def card_fits(rule: Rule, card_products: Iterable[str | None]) -> bool:
    """One of the cards (their products) may take part."""
    return not rule.card_products or any(p in rule.card_products for p in card_products)


def applies(rule: Rule, payment: Payment, local_now: datetime, utc_now: datetime | None = None) -> bool:
    """The payment qualifies at ``local_now`` (the bank's zone): dates, day of week, time of
    day, amount, card product, MCC, merchant, channel. ``utc_now``: the same instant in UTC,
    for callers that check many rules (the dates compare without a zone lookup each)."""
    if not live(rule, utc_now or local_now):
        return False
    if payment.amount_fen < rule.min_amount_fen:
        return False
    if rule.card_products and payment.card_product not in rule.card_products:
        return False
    if rule.mccs and payment.mcc not in rule.mccs:
        return False
    if rule.merchant_ids and payment.merchant_id not in rule.merchant_ids:
        return False
    if rule.channels and payment.channel not in rule.channels:
        return False
    if rule.days_of_week and local_now.isoweekday() not in rule.days_of_week:
        return False
    return in_windows(rule.time_windows, local_now.hour * 60 + local_now.minute)


def discount(rule: Rule, amount_fen: int, rng: random.Random) -> int:
    """The discount in fen ``rule`` gives a qualifying amount (never above the amount)."""
    if rule.kind is DiscountKind.THRESHOLD:
        d = rule.discount_fen
    elif rule.kind is DiscountKind.PERCENT:
        d = min(amount_fen * rule.rate_bp // 10_000, rule.cap_fen)
    else:
        d = rng.randint(rule.min_discount_fen, rule.max_discount_fen)
    return max(0, min(d, amount_fen))


def use_key(rule: Rule, day: str) -> str:
    """What "one per cardholder" counts by: the campaign (``""``) or the business day."""
    return day if rule.per is Per.DAY else ""


@dataclass(frozen=True, slots=True)
class Offer:
    rule: Rule
    discount_fen: int


def ranked_offers(
    rules: Iterable[Rule], payment: Payment, local_now: datetime, rng: random.Random
) -> list[Offer]:
    """The qualifying campaigns' discounts, best first (ties: the campaign ending first,
    then by id, so the order is stable)."""
    offers = []
    utc_now = local_now.astimezone(UTC)  # the stored dates are UTC: no zone lookup per rule
    for rule in rules:
        if applies(rule, payment, local_now, utc_now):
            d = discount(rule, payment.amount_fen, rng)
            if d > 0:
                offers.append(Offer(rule, d))
    far = datetime.max.replace(tzinfo=local_now.tzinfo)
    offers.sort(key=lambda o: (-o.discount_fen, o.rule.ends_at or far, o.rule.id))
    return offers


@dataclass
class Catalogue:
    """The active campaigns, indexed by MCC (those limited to MCCs under each of theirs,
    the others under ``any_mcc``)."""

    rules: list[Rule] = field(default_factory=list)
    by_mcc: dict[str, list[Rule]] = field(default_factory=dict)
    any_mcc: list[Rule] = field(default_factory=list)
    by_id: dict[str, Rule] = field(default_factory=dict)

    @classmethod
    def of(cls, rules: Iterable[Rule]) -> Catalogue:
        cat = cls()
        for rule in rules:
            cat.rules.append(rule)
            cat.by_id[rule.id] = rule
            if rule.mccs:
                for mcc in rule.mccs:
                    cat.by_mcc.setdefault(mcc, []).append(rule)
            else:
                cat.any_mcc.append(rule)
        return cat

    def for_mcc(self, mcc: str) -> list[Rule]:
        return self.by_mcc.get(mcc, []) + self.any_mcc
