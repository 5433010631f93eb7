"""The "for you" ranking: pure functions over a bounded set of candidates.

Each candidate is scored

    score = 3·interest + 1·followed + 1·hot + 0.5·product

- ``interest``: the member's strongest tag among the post's topics, as a share of their
  strongest tag (0–1; ``topic:<topic>`` tags of ``app.profile``, already decayed);
- ``followed``: 1 when the member follows the author;
- ``hot``: 1 − rank/len in the hot candidates (0 when not among them);
- ``product``: 1 when the post carries a product card suitable for the member;

ties newest first (by id). Then the **diversity rule**: no more than ``max_run`` (2) in a
row from one author or on one topic — greedily, the best-scored candidate that does not
make a third in a row is taken next; when none fits (the rest are all from that author
or topic) the best one is taken anyway. Same inputs, same order: pages are slices of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

INTEREST, FOLLOWED, HOT, PRODUCT = 3.0, 1.0, 1.0, 0.5

LABELS_ZH = {
    "funds": "基金",
    "deposits": "存款",
    "insurance": "保险",
    "stocks": "股票",
    "bonds": "债券",
    "credit_cards": "信用卡",
    "savings": "储蓄",
    "gold": "黄金",
    "retirement": "养老",
    "travel": "旅行",
}


# Named tuples (immutable like frozen dataclasses, several times cheaper to make: a page
# makes ~300 of each).
class Candidate(NamedTuple):
    id: str
    author_id: str
    topics: tuple[str, ...]
    followed: bool
    hot_rank: int | None  # 0 = hottest among the hot candidates
    product: bool  # carries a product card suitable for the member


class Ranked(NamedTuple):
    candidate: Candidate
    score: float
    topic: str | None  # the topic it matched the member on (the reason), else None

    @property
    def id(self) -> str:
        return self.candidate.id


def score(c: Candidate, interests: dict[str, float], hot_count: int, top: float | None = None) -> Ranked:
    """``top``: the member's strongest interest (found here when not given)."""
    if top is None:
        top = max(interests.values(), default=0.0)
    best: str | None = None
    interest = 0.0
    for t in c.topics:
        w = interests.get(t, 0.0)
        if w > interest:
            best, interest = t, w
    interest = interest / top if top > 0 else 0.0
    hot = 1.0 - c.hot_rank / hot_count if c.hot_rank is not None and hot_count else 0.0
    s = INTEREST * interest + FOLLOWED * c.followed + HOT * hot + PRODUCT * c.product
    return Ranked(c, s, best)


def rank(candidates: Sequence[Candidate], interests: dict[str, float], hot_count: int) -> list[Ranked]:
    """Best first; ties newest first (ids are time-sortable). (``score`` inlined: a page
    ranks ~300 candidates.)"""
    top = max(interests.values(), default=0.0)
    get = interests.get
    scored = []
    for c in candidates:
        best: str | None = None
        interest = 0.0
        for t in c.topics:
            w = get(t, 0.0)
            if w > interest:
                best, interest = t, w
        interest = interest / top if top > 0 else 0.0
        hot = 1.0 - c.hot_rank / hot_count if c.hot_rank is not None and hot_count else 0.0
        scored.append(
            Ranked(c, INTEREST * interest + FOLLOWED * c.followed + HOT * hot + PRODUCT * c.product, best)
        )
    scored.sort(key=lambda r: r.candidate.id, reverse=True)
    scored.sort(key=lambda r: -r.score)  # stable: ties stay newest first
    return scored


def _topic(r: Ranked) -> str | None:
    return r.topic or (r.candidate.topics[0] if r.candidate.topics else None)


def diversify(ranked: Sequence[Ranked], max_run: int = 2, stop: int | None = None) -> list[Ranked]:
    """The ranking with no more than ``max_run`` in a row from one author or on one topic
    (when the remaining candidates allow it); with ``stop``, only its first ``stop`` items
    (the same as the whole order's: each pick depends only on those before it)."""
    rest = list(ranked)
    out: list[Ranked] = []
    while rest and (stop is None or len(out) < stop):
        tail = out[-max_run:]
        pick = 0
        if len(tail) == max_run:
            authors = {r.candidate.author_id for r in tail}
            topics = {_topic(r) for r in tail}
            same_author = next(iter(authors)) if len(authors) == 1 else None
            same_topic = next(iter(topics)) if len(topics) == 1 else None
            for i, r in enumerate(rest):
                if r.candidate.author_id == same_author:
                    continue
                if same_topic is not None and _topic(r) == same_topic:
                    continue
                pick = i
                break
        out.append(rest.pop(pick))
    return out


def runs_ok(items: Sequence[tuple[str, str | None]], max_run: int = 2) -> bool:
    """No more than ``max_run`` consecutive items share an author or a (non-null) topic."""
    for i in range(max_run, len(items)):
        window = items[i - max_run : i + 1]
        if len({a for a, _ in window}) == 1:
            return False
        topics = {t for _, t in window}
        if len(topics) == 1 and None not in topics:
            return False
    return True
