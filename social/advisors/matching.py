"""Advisor matching: clients to advisors by fit, within each advisor's capacity (pure).

A maximum-weight bipartite b-matching (an advisor takes up to ``capacity`` clients, a
client one advisor), solved as a min-cost max-flow with networkx:

    source → client (capacity 1) → advisor (capacity 1, cost −fit) → sink (capacity = room)

so as many clients as capacity allows are assigned, and among those assignments the
total fit is the largest. ``fit`` = 1 + 4·same region + 2·same language + 1·risk
profile the advisor serves. Inputs are sorted by id before the graph is built, so the
same input always gives the same answer (network simplex is deterministic), whatever
order the rows came in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import networkx as nx

REGION, LANGUAGE, RISK = 4, 2, 1


@dataclass(frozen=True)
class Client:
    id: str
    region: str | None = None
    language: str | None = None
    risk_profile: str | None = None


@dataclass(frozen=True)
class Advisor:
    id: str
    room: int  # clients it can still take
    regions: frozenset[str] = field(default_factory=frozenset)
    languages: frozenset[str] = field(default_factory=frozenset)
    risk_profiles: frozenset[str] = field(default_factory=frozenset)


def fit(c: Client, a: Advisor) -> int:
    return (
        1
        + REGION * (c.region is not None and c.region in a.regions)
        + LANGUAGE * (c.language is not None and c.language in a.languages)
        + RISK * (c.risk_profile is not None and c.risk_profile in a.risk_profiles)
    )


def assign(clients: Iterable[Client], advisors: Iterable[Advisor]) -> dict[str, tuple[str, int]]:
    """client id → (advisor id, fit) for every client that gets an advisor."""
    cs = sorted(clients, key=lambda c: c.id)
    ads = sorted((a for a in advisors if a.room > 0), key=lambda a: a.id)
    if not cs or not ads:
        return {}
    g = nx.DiGraph()
    g.add_node("src")
    for c in cs:
        g.add_edge("src", ("c", c.id), capacity=1, weight=0)
    for a in ads:
        g.add_edge(("a", a.id), "sink", capacity=a.room, weight=0)
    for c in cs:
        for a in ads:
            g.add_edge(("c", c.id), ("a", a.id), capacity=1, weight=-fit(c, a))
    flow = nx.max_flow_min_cost(g, "src", "sink")
    by_id = {a.id: a for a in ads}
    out: dict[str, tuple[str, int]] = {}
    for c in cs:
        for (_, aid), units in flow[("c", c.id)].items():
            if units:
                out[c.id] = (aid, fit(c, by_id[aid]))
    return out
