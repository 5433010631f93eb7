"""An audience's rule: a tree of ``and`` / ``or`` / ``not`` over tests of tags and member
attributes (a pydantic discriminated union on ``kind``), and its compilation to one SQL
condition over ``users`` — a segment is one query, never a loop over members.

- ``{"kind": "tag", "tag": "series:spy_family", "min_weight": 2, "within_days": 30}``:
  the member holds the tag with a weight (decayed to now, summed over its sources) of at
  least ``min_weight``, and evidence for it happened in the last ``within_days`` days;
- ``{"kind": "attribute", "name": "tier", "at_least": "gold"}``,
  ``{"kind": "attribute", "name": "region", "in": ["shanghai"]}``,
  ``{"kind": "attribute", "name": "cardholder", "is": true}``: a registered attribute
  (``app.audiences.attributes``);
- ``{"kind": "and" | "or", "rules": [...]}``, ``{"kind": "not", "rule": {...}}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator
from sqlalchemy import ColumnElement, and_, not_, or_

from app.audiences import attributes
from app.errors import ValidationFailed
from app.profile import service as profile

MAX_DEPTH = 6
MAX_NODES = 64

TagName = Annotated[str, Field(min_length=3, max_length=80, pattern=r"^[^:\s]+:\S+$")]
Value = Annotated[str, Field(min_length=1, max_length=64)]


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TagRule(_Node):
    kind: Literal["tag"]
    tag: TagName
    min_weight: float = Field(default=0.0, ge=0.0, le=1_000_000.0)
    within_days: int | None = Field(default=None, ge=1, le=3650)


class AttributeRule(_Node):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    kind: Literal["attribute"]
    name: Annotated[str, Field(min_length=1, max_length=32)]
    is_: StrictBool | None = Field(default=None, alias="is")
    in_: list[Value] | None = Field(default=None, alias="in", min_length=1, max_length=50)
    at_least: Value | None = None

    @model_validator(mode="after")
    def _one_test(self) -> AttributeRule:
        given = [t for t in (self.is_, self.in_, self.at_least) if t is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of is, in, at_least")
        return self

    def test(self) -> attributes.Test:
        if self.is_ is not None:
            return attributes.Test("is", (self.is_,))
        if self.in_ is not None:
            return attributes.Test("in", tuple(self.in_))
        return attributes.Test("at_least", (str(self.at_least),))


class AndRule(_Node):
    kind: Literal["and"]
    rules: list[Rule] = Field(min_length=1, max_length=20)


class OrRule(_Node):
    kind: Literal["or"]
    rules: list[Rule] = Field(min_length=1, max_length=20)


class NotRule(_Node):
    kind: Literal["not"]
    rule: Rule


Rule = Annotated[TagRule | AttributeRule | AndRule | OrRule | NotRule, Field(discriminator="kind")]

AndRule.model_rebuild()
OrRule.model_rebuild()
NotRule.model_rebuild()


def children(rule: Any) -> list[Any]:
    if isinstance(rule, AndRule | OrRule):
        return list(rule.rules)
    if isinstance(rule, NotRule):
        return [rule.rule]
    return []


def walk(rule: Any) -> list[Any]:
    out = [rule]
    for c in children(rule):
        out += walk(c)
    return out


def tags_of(rule: Any) -> set[str]:
    """The tags a rule names: a change to one of them may change the membership."""
    return {n.tag for n in walk(rule) if isinstance(n, TagRule)}


def check(rule: Any) -> None:
    """Beyond the shape: size, depth, known attributes and values. Raises ValidationFailed."""

    def depth(n: Any) -> int:
        return 1 + max((depth(c) for c in children(n)), default=0)

    if depth(rule) > MAX_DEPTH:
        raise ValidationFailed(f"a rule nests at most {MAX_DEPTH} deep", field="rule", reason="too_deep")
    nodes = walk(rule)
    if len(nodes) > MAX_NODES:
        raise ValidationFailed(f"a rule has at most {MAX_NODES} parts", field="rule", reason="too_large")
    for n in nodes:
        if not isinstance(n, AttributeRule):
            continue
        provider = attributes.providers.get(n.name)
        if provider is None:
            raise ValidationFailed(
                f"no member attribute {n.name!r}; known: {', '.join(sorted(attributes.providers))}",
                field="rule",
                reason="unknown_attribute",
            )
        test = n.test()
        if test.op not in provider.ops:
            raise ValidationFailed(
                f"{n.name!r} takes {', '.join(sorted(provider.ops))}", field="rule", reason="bad_test"
            )
        if provider.values is not None:
            allowed = provider.values()
            bad = [v for v in test.values if isinstance(v, str) and v not in allowed]
            if bad:
                raise ValidationFailed(
                    f"{n.name!r} is one of {', '.join(allowed)}", field="rule", reason="unknown_value"
                )


def condition(
    rule: Any, rt: Any, members: Any, now: datetime, among: Sequence[str] | None = None
) -> ColumnElement[bool]:
    """The rule as a SQL condition on a row of ``members`` (``app.auth.service.members_sql``)
    as of ``now``; with ``among``, sub-queries look only at those members."""
    if isinstance(rule, AndRule):
        return and_(*(condition(r, rt, members, now, among) for r in rule.rules))
    if isinstance(rule, OrRule):
        return or_(*(condition(r, rt, members, now, among) for r in rule.rules))
    if isinstance(rule, NotRule):
        return not_(condition(rule.rule, rt, members, now, among))
    if isinstance(rule, AttributeRule):
        return attributes.providers[rule.name].condition(rt, members, rule.test(), among)
    assert isinstance(rule, TagRule)
    holders = profile.tag_holders_sql(
        rt, tag=rule.tag, min_weight=rule.min_weight, within_days=rule.within_days, now=now, among=among
    )
    return members.id.in_(holders)  # type: ignore[no-any-return]
