"""Friend suggestions: the documented score, and its reference ranking in networkx.

The service (``social.friends.suggestions``) computes this ranking in one SQL statement
so the ego graph never leaves the database; ``rank`` below is the plain-Python reference
over the user's 2-hop ego graph (the user, their friends, their friends' friends), and
the tests check the SQL against it and against ``nx.adamic_adar_index``. A candidate
``v`` is scored by

    score(v) = AA(me, v) + IN_CONTACTS · [v is in my address book]
                          + HAS_ME · [my number is in v's address book]

where ``AA(me, v) = Σ_{w ∈ N(me) ∩ N(v)} 1 / ln(deg(w))`` is the Adamic–Adar index
over mutual friends: a mutual friend with few friends says more than a hub. The degree
of each of my friends is exact, since all their edges are in the ego graph. Ties are
broken by user id, so the order is stable.

The reasons shown are ``mutual_friends`` (with the count) and ``in_contacts``; "has you
in contacts" only raises the score and is never shown (it would reveal someone else's
address book).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx

IN_CONTACTS = 1.0
HAS_ME = 0.5


@dataclass(frozen=True)
class Suggestion:
    user_id: str
    score: float
    mutual_friends: int
    in_contacts: bool


def ego_graph(me: str, edges: Iterable[tuple[str, str]]) -> nx.Graph:
    """The 2-hop ego graph from the edges of me and my friends."""
    g = nx.Graph()
    g.add_node(me)
    g.add_edges_from(edges)
    return g


def rank(
    g: nx.Graph,
    me: str,
    *,
    my_contacts: set[str],
    has_me: set[str],
    exclude: set[str],
    limit: int,
) -> list[Suggestion]:
    """The ``limit`` best candidates, best first (score desc, then user id)."""
    friends = set(g[me]) if me in g else set()
    skip = exclude | friends | {me}
    aa: dict[str, float] = {}
    mutual: dict[str, int] = {}
    for w in friends:
        deg = g.degree(w)
        if deg < 2:
            continue
        weight = 1.0 / math.log(deg)
        for v in g[w]:
            if v in skip:
                continue
            aa[v] = aa.get(v, 0.0) + weight
            mutual[v] = mutual.get(v, 0) + 1
    candidates = set(aa) | ((my_contacts | has_me) - skip)

    def score(v: str) -> float:
        return aa.get(v, 0.0) + IN_CONTACTS * (v in my_contacts) + HAS_ME * (v in has_me)

    best = heapq.nsmallest(limit, ((-score(v), v) for v in candidates))
    return [
        Suggestion(
            user_id=v, score=round(-neg, 6), mutual_friends=mutual.get(v, 0), in_contacts=v in my_contacts
        )
        for neg, v in best
    ]
