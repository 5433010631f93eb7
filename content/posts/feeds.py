"""The feed's post lists (served by ``content.feed``): latest, following and hot, as
keyset pages that new posts never disturb.

- ``latest`` and ``following``: newest first by post id (time-sortable); the cursor is
  the last id, so posts that arrive meanwhile sort above it and never shift a page.
- ``hot``: by the stored hot key (see ``content.feed.ranking``) then id; the cursor holds
  the last (key, id) and the ranking time of the first page, and later pages leave out
  posts created after it. A post whose likes change while a reader pages may move
  across the cursor (seen twice or not at all); new posts never do.

Everyone sees only published posts, never from a muted author or across a block.

Why ``following`` has its own query shape (see ``_following``): measured on 1 000 000
posts from 50 000 authors, a reader following 500.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    Float,
    Integer,
    Select,
    String,
    any_,
    bindparam,
    func,
    literal_column,
    null,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.service import Caller
from app.dbtypes import UTCDateTime
from app.errors import ValidationFailed
from app.pagination import FEED_CURSOR, FOR_YOU_CURSOR, Chunk, decode_cursor, encode_cursor
from app.profile import service as profile
from app.runtime import Runtime
from content.feed import foryou
from content.moderation.service import muted_user_ids
from content.posts import service as posts
from content.posts.interests import cached_topics
from content.posts.models import Follow, Post, Status
from content.posts.schemas import FeedReason
from content.products import service as products
from social.friends import service as friends

# Every statement is built once, at import, with bound parameters (``viewer_id``, ``now``,
# ``as_of``, ``lim`` and the cursor's ``after_i``/``after_s``; ``reader_id`` for the likes):
# building a select with its subqueries for each request cost more service CPU than
# PostgreSQL spent running it. ``_STATEMENTS`` holds the tab pages by (tab, has cursor).
_VIEWER: BindParameter[str] = bindparam("viewer_id", type_=String())
_NOW: BindParameter[datetime] = bindparam("now", type_=UTCDateTime())
_AS_OF: BindParameter[datetime] = bindparam("as_of", type_=UTCDateTime())
_LIMIT: BindParameter[int] = bindparam("lim", type_=Integer())
_AFTER_I: BindParameter[str] = bindparam("after_i", type_=String())
_AFTER_S: BindParameter[float] = bindparam("after_s", type_=Float())


def _visible(q: Select[Any]) -> Select[Any]:
    return q.where(
        Post.status == Status.PUBLISHED,
        friends.unblocked_sql(_VIEWER, Post.author_id),
        (Post.author_id == _VIEWER) | Post.author_id.not_in(muted_user_ids(_NOW)),  # type: ignore[attr-defined]
    )


# The authors the viewer follows and may see (no block either way, not muted now), as one
# array: the block and mute rules run once, over the (small) set of followed authors.
_FOLLOWED_AUTHORS = (
    select(func.array_agg(Follow.followee_id))
    .where(
        Follow.follower_id == _VIEWER,
        friends.unblocked_sql(_VIEWER, Follow.followee_id),
        Follow.followee_id.not_in(muted_user_ids(_NOW)),  # type: ignore[attr-defined]
    )
    .scalar_subquery()
)


async def _followed_authors(db: AsyncSession, viewer_id: str, now: datetime) -> list[str]:
    return list(
        (await db.execute(select(_FOLLOWED_AUTHORS), {"viewer_id": viewer_id, "now": now})).scalar() or ()
    )


def _following(q: Select[Any], authors: Any, *, after: Any, as_of: Any) -> Select[Any]:
    """Published posts by ``authors`` (an array: ``_FOLLOWED_AUTHORS`` or a bound list),
    for newest-first keyset paging by id: ``posts_newest_by`` (migration 2053) finds the
    page's ids, ``after`` the cursor's id and created by ``as_of`` (either may be null).

    Why this shape: the posts query is a backward walk of the primary key (ids are
    time-sortable) that keeps posts whose author is in the list and stops at the page
    size. Reading 500 authors' newest posts one index range each (a LATERAL join)
    touches every author's last page, ~10 000 index entries and as many heap pages,
    where the walk touches ~2 000 consecutive rows (64 buffers, < 1 ms). PostgreSQL
    walks only when it plans for the list's values: with the list bound to a prepared
    statement (or as ``= ANY(ARRAY(subquery))``) it soon runs a generic plan that reads
    every listed author's posts and sorts them (10–100 ms), so the function plans the
    walk at each call (``EXECUTE … USING``). The cost grows as the followed authors post
    less than the rest: a reader whose 500 authors have all gone quiet walks far back.
    """
    newest = func.posts_newest_by(authors, after, as_of, _LIMIT, type_=ARRAY(String()))
    return q.where(Post.id == any_(newest))


def _tab_page(tab: str, after: bool) -> Select[Any]:
    q = posts.reader_select(Post.hot_score)
    if tab == "following":
        q = _following(q, _FOLLOWED_AUTHORS, after=_AFTER_I if after else null(), as_of=null())
    else:
        q = _visible(q)
    if tab == "hot":
        q = q.where(Post.created_at <= _AS_OF)
        if after:
            q = q.where(tuple_(Post.hot_score, Post.id) < tuple_(_AFTER_S, _AFTER_I))
        return q.order_by(Post.hot_score.desc(), Post.id.desc()).limit(_LIMIT)  # type: ignore[attr-defined]
    if after:
        q = q.where(Post.id < _AFTER_I)
    return q.order_by(Post.id.desc()).limit(_LIMIT)  # type: ignore[attr-defined]


_STATEMENTS = {
    (tab, after): _tab_page(tab, after) for tab in ("latest", "following", "hot") for after in (False, True)
}


async def feed(
    db: AsyncSession, rt: Runtime, *, viewer: Caller, tab: str, limit: int, cursor: str | None
) -> Chunk[dict[str, Any]]:
    """One page of a feed tab, as ``PostPublic`` values (``posts.public_items``). Raises
    ValidationFailed (bad cursor)."""
    if tab == "for_you":
        return await for_you(db, rt, viewer=viewer, limit=limit, cursor=cursor)
    now = rt.clock.now()
    after = decode_cursor(cursor, FEED_CURSOR)
    params: dict[str, Any] = {"viewer_id": viewer.id, "reader_id": viewer.id, "now": now, "lim": limit + 1}
    if tab == "hot":
        if after is not None and (after.t is None or after.s is None):
            raise ValidationFailed("invalid cursor", field="cursor")
        as_of = after.t if after is not None and after.t is not None else now
        params["as_of"] = as_of
        if after is not None:
            params["after_s"] = after.s
    if after is not None:
        params["after_i"] = after.i
    rows = list((await db.execute(_STATEMENTS[tab, after is not None], params)).all())
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        value: dict[str, Any] = {"i": last.id}
        if tab == "hot":
            value |= {"s": last.hot_score, "t": as_of.isoformat()}
        next_cursor = encode_cursor(value)
    return Chunk(await posts.public_items(db, rt, rows[:limit], viewer), next_cursor=next_cursor)


# -- "for you" -------------------------------------------------------------------------------


def _reason(r: foryou.Ranked, author_name: str, interests: dict[str, float]) -> FeedReason:
    c = r.candidate
    if r.topic is not None and interests:
        label = r.topic.replace("_", " ")
        return FeedReason(
            code="topic",
            tag=f"topic:{r.topic}",
            text=f"because you follow {label}",
            text_zh=f"因为你关注{foryou.LABELS_ZH.get(r.topic, label)}",
        )
    if c.followed:
        name = author_name
        return FeedReason(code="followed", text=f"because you follow {name}", text_zh=f"因为你关注了{name}")
    if c.product:
        return FeedReason(code="product", text="a product that suits you", text_zh="适合你的理财产品")
    return FeedReason(code="hot", text="popular now", text_zh="热门内容")


# What the ranking reads of a candidate: not the whole row (topics are found in the
# title and the first ``_TOPIC_CHARS`` characters of the text); ``src`` says which source
# found it (the same post may come from several).
_TOPIC_CHARS = 300
_HOT, _FOLLOWED, _PRODUCT = 0, 1, 2


def _candidates(src: int) -> Select[Any]:
    q = select(
        literal_column(str(src)).label("src"),
        Post.id,
        Post.author_id,
        Post.title,
        func.left(Post.text, _TOPIC_CHARS).label("text"),
        Post.product,
        Post.hot_score,
    )
    if src == _HOT:
        q = _visible(q).where(Post.created_at <= _AS_OF)
        return q.order_by(Post.hot_score.desc(), Post.id.desc()).limit(_LIMIT)  # type: ignore[attr-defined]
    if src == _FOLLOWED:
        q = _following(q, bindparam("followed_authors", type_=ARRAY(String())), after=null(), as_of=_AS_OF)
    else:  # products suitable for the member, by id (``suitable_products``)
        # A list, not a subquery: with ``IN (SELECT …)`` PostgreSQL hash-joins every post
        # that carries a product (10 000 of 1 000 000) and sorts them (36 ms); with the
        # list it walks the partial index newest first and stops at the limit (0.2 ms).
        suitable: BindParameter[list[str]] = bindparam("suitable_products", expanding=True)
        q = _visible(q).where(
            Post.product.is_not(None),  # type: ignore[union-attr]
            Post.created_at <= _AS_OF,
            Post.product["product_id"].as_string().in_(suitable),  # type: ignore[index]
        )
    return q.order_by(Post.id.desc()).limit(_LIMIT)  # type: ignore[attr-defined]


# the candidates of the sources that apply, in one statement
_HOT_ONLY = _candidates(_HOT)
_HOT_PRODUCT = union_all(_candidates(_HOT), _candidates(_PRODUCT))
_ALL_SOURCES = union_all(_candidates(_HOT), _candidates(_FOLLOWED), _candidates(_PRODUCT))
_PAGE_BY_ID = posts.reader_select().where(col(Post.id).in_(bindparam("ids", expanding=True)))


async def for_you(
    db: AsyncSession, rt: Runtime, *, viewer: Caller, limit: int, cursor: str | None
) -> Chunk[dict[str, Any]]:
    """One page of the "for you" tab (``content.feed.foryou``): the followed, hot and
    suitable-product candidates (each at most ``for_you_candidates``, as of the first
    page's time; a few columns each, the three sources in one statement), ranked by the
    member's topic tags and diversified; a page is a slice of that order, and only its
    posts are read whole. Without topic tags (no consent to ``content``, or none derived
    yet) it is the hot candidates in hot order. Raises ValidationFailed (bad cursor)."""
    now = rt.clock.now()
    pos = decode_cursor(cursor, FOR_YOU_CURSOR)
    as_of = min(pos.t, now) if pos is not None else now
    offset = pos.o if pos is not None else 0
    n = rt.settings.content.for_you_candidates
    interests = await profile.tag_weights(db, rt, user_id=viewer.id, kind="topic")
    risk = await products.risk_profile_of(db, viewer)

    params: dict[str, Any] = {"viewer_id": viewer.id, "now": now, "as_of": as_of, "lim": n}
    statement: Any = _HOT_ONLY
    followed: set[str] = set()
    if interests:
        followed = set(await _followed_authors(db, viewer.id, now))
        params["suitable_products"] = sorted(await products.suitable_ids(db, risk))
        statement = _HOT_PRODUCT
        if followed:
            params["followed_authors"] = sorted(followed)
            statement = _ALL_SOURCES
    # rows read by position (src, id, author_id, title, text, product, hot_score): a name
    # costs a lookup each, and a page reads ~300 rows several times
    found = list((await db.execute(statement, params)).all())
    hot = sorted((r for r in found if r[0] == _HOT), key=lambda r: (r[6], r[1]), reverse=True)
    hot_rank = {r[1]: i for i, r in enumerate(hot)}
    pool: dict[str, Any] = {}
    for r in found:
        pool.setdefault(r[1], r)

    # product cards of the candidates, for this member
    cards = await products.render(db, {i for r in pool.values() if (i := _product_id(r[5]))}, risk)
    candidates = []
    for _src, post_id, author_id, title, text, product, _hot in pool.values():
        pid = _product_id(product)
        card = cards.get(pid) if pid else None
        if card is not None and not card.available and interests:
            continue  # "for you" shows only products that suit the member
        topics = cached_topics(title, text)
        if card is not None and card.kind is not None:
            topic = products.KIND_TOPIC[card.kind]
            if topic not in topics:
                topics = (*topics, topic)
        candidates.append(
            foryou.Candidate(
                post_id,
                author_id,
                topics,
                author_id in followed,
                hot_rank.get(post_id),
                card is not None and card.available,
            )
        )
    if interests:
        # only as far as this page: the greedy order's prefix does not depend on the rest
        ordered = foryou.diversify(foryou.rank(candidates, interests, len(hot)), stop=offset + limit)
    else:  # no tags: the hot tab's order
        ordered = [foryou.Ranked(c, 0.0, None) for c in sorted(candidates, key=lambda c: hot_rank[c.id])]
    page = ordered[offset : offset + limit]
    next_cursor = None
    if offset + limit < len(candidates):
        next_cursor = encode_cursor({"o": offset + limit, "t": as_of.isoformat()})
    if not page:
        return Chunk([], next_cursor=next_cursor)
    wanted = [r.id for r in page]
    rows = {
        row.id: row for row in (await db.execute(_PAGE_BY_ID, {"ids": wanted, "reader_id": viewer.id})).all()
    }
    page = [r for r in page if r.id in rows]
    return Chunk(
        await posts.public_items(
            db,
            rt,
            [rows[r.id] for r in page],
            viewer,
            cards=cards,
            reasons=[_reason(r, rows[r.id]._author_name or "", interests) for r in page],
        ),
        next_cursor=next_cursor,
    )


def _product_id(product: Any) -> str | None:
    return product.get("product_id") if isinstance(product, dict) else None
