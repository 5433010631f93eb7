"""Member attributes an audience rule may test, by name.

The platform registers the account's own (``cardholder``, ``region``, ``risk_profile``);
a feature registers what it knows about members (``games.points``: ``tier``) in its
``hooks.py`` with ``register``, so the audiences never import a feature. A provider turns
a test into a SQL condition on a row of ``members`` (``app.auth.service.members_sql``:
``id``, ``is_cardholder``, ``region``, ``risk_profile``): a column test, or
``members.id IN (subquery)`` over the feature's own tables, so a segment stays one query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, false, true

Op = Literal["is", "in", "at_least"]


@dataclass(frozen=True)
class Test:
    """What a rule asks of an attribute: ``is`` (a boolean), ``in`` (one of the values),
    ``at_least`` (an ordered attribute, e.g. a tier: this value or a higher one)."""

    op: Op
    values: tuple[str | bool, ...]


@dataclass(frozen=True)
class Provider:
    """An attribute: its ``ops``, its ``values`` in ascending order when they are a fixed
    list (None: free text), and ``condition(rt, members, test, among)``: a SQL boolean
    (``among``: when not None, only these members are being evaluated — a sub-query may
    look at them alone)."""

    name: str
    description: str
    ops: frozenset[str]
    condition: Callable[[Any, Any, Test, Sequence[str] | None], ColumnElement[bool]]
    values: Callable[[], tuple[str, ...]] | None = None


providers: dict[str, Provider] = {}


def register(provider: Provider) -> None:
    providers[provider.name] = provider


def _cardholder(rt: Any, members: Any, test: Test, among: Sequence[str] | None) -> ColumnElement[bool]:
    return members.is_cardholder if test.values[0] else ~members.is_cardholder  # type: ignore[no-any-return]


def _column(name: str) -> Callable[[Any, Any, Test, Sequence[str] | None], ColumnElement[bool]]:
    def condition(rt: Any, members: Any, test: Test, among: Sequence[str] | None) -> ColumnElement[bool]:
        values = [v for v in test.values if isinstance(v, str)]
        return members[name].in_(values) if values else false()  # type: ignore[no-any-return]

    return condition


register(Provider("cardholder", "holds one of the bank's cards", frozenset({"is"}), _cardholder))
register(Provider("region", "the member's region", frozenset({"in"}), _column("region")))
register(Provider("risk_profile", "the member's risk profile", frozenset({"in"}), _column("risk_profile")))

__all__ = ["Provider", "Test", "false", "providers", "register", "true"]
