"""Content interests: the topics of the posts a member reads, likes and writes, as tag
evidence for their profile (``app.profile``; kept only under the ``content`` consent).

A topic is found by keywords in the title, text and product card (Chinese and English);
``topics`` is a pure function.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.profile import service as profile
from app.runtime import Runtime

KEYWORDS: dict[str, tuple[str, ...]] = {
    "funds": ("基金", "fund", "etf"),
    "deposits": ("存款", "定期", "存单", "deposit"),
    "insurance": ("保险", "insurance"),
    "stocks": ("股票", "股市", "a股", "stock"),
    "bonds": ("债券", "国债", "bond"),
    "credit_cards": ("信用卡", "credit card"),
    "savings": ("储蓄", "攒钱", "存钱", "saving"),
    "gold": ("黄金", "gold"),
    "retirement": ("养老", "退休", "pension", "retire"),
    "travel": ("旅行", "旅游", "travel"),
}
WHY = {
    "read": "you read {count} posts about {label}",
    "liked": "you liked {count} posts about {label}",
    "posted": "you wrote {count} posts about {label}",
}


_TOPIC_OF = {w: topic for topic, words in KEYWORDS.items() for w in words}
# One pass over the text: every keyword, longest first (so a longer one wins where two start).
_KEYWORD = re.compile("|".join(re.escape(w) for w in sorted(_TOPIC_OF, key=len, reverse=True)))


def topics(title: str | None, text: str, product: dict[str, Any] | None = None) -> list[str]:
    """The topics a post is about, by keyword, in the order of ``KEYWORDS``."""
    haystack = " ".join([title or "", text, (product or {}).get("title", "")]).casefold()
    found = {_TOPIC_OF[m.group(0)] for m in _KEYWORD.finditer(haystack)}
    return [topic for topic in KEYWORDS if topic in found]


@functools.lru_cache(maxsize=65_536)
def cached_topics(title: str | None, text: str) -> tuple[str, ...]:
    """``topics`` of a title and text, remembered per worker (the feed ranks the same
    candidates for many readers)."""
    return tuple(topics(title, text))


async def note(
    db: AsyncSession, rt: Runtime, *, user_id: str, action: str, title: str | None, text: str, product: Any
) -> None:
    """Count a read, like or post of a post's topics for ``user_id`` (inside the caller's
    transaction; nothing without the member's consent)."""
    found = topics(title, text, product)
    if found:
        now = rt.clock.now()
        await profile.record(
            db,
            rt,
            [profile.Evidence(user_id, f"topic:{t}", "content", action, WHY[action], now) for t in found],
        )
