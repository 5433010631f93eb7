"""Posts, comments and answers, likes, follows and reports.

Who may see what lives in ``access_post``: everyone sees published posts except across a
block or from a muted author; the author and moderators also see pending and removed
ones; a deleted post is found by no one. Creator-leaderboard points are written to Redis
after commit (``content.posts.creators``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import names as auth_names
from app.auth import service as auth
from app.auth.service import Caller
from app.db import transaction
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.ids import new_id
from app.pagination import ID_CURSOR, Chunk, decode_cursor, encode_cursor
from app.runtime import Runtime
from content.config import content_settings
from content.feed.ranking import hot_key
from content.media import service as media
from content.moderation import service as moderation
from content.posts import counters, creators, interests
from content.posts.models import Comment, Follow, Post, PostKind, PostLike, PostReport, Source, Status
from content.posts.schemas import CommentCreate, FeedReason, PostCreate, PostUpdate
from content.products import service as products
from content.products.schemas import ProductCard, ProductRef
from social.friends import service as friends

BADGES = {"advisor": "理财经理", "editor": "官方编辑"}


def is_moderator(user: Caller) -> bool:
    return user.has_role("moderator") or user.has_role("admin")


def pgc_badge(user: Caller) -> str | None:
    """The PGC badge of an advisor or editor, None for everyone else (UGC)."""
    for role, badge in BADGES.items():
        if user.has_role(role):
            return badge
    return None


def insert_ignore(model: Any, values: dict[str, Any]) -> Any:
    """INSERT … ON CONFLICT DO NOTHING RETURNING the key."""
    pk = [c for c in model.__table__.primary_key.columns]
    return insert(model).values(**values).on_conflict_do_nothing().returning(pk[0])


# --- as a viewer sees them --------------------------------------------------------------------


@dataclass(frozen=True)
class PostView:
    """A post as one viewer sees it."""

    post: Post
    author: Caller | None
    images: list[media.Image]
    liked_by_me: bool
    flags: list[str]  # moderation flags: for the author and moderators only (others: [])
    editable_until: datetime | None  # for the author
    product: ProductCard | None = None  # rendered from the catalogue for this viewer
    reason: FeedReason | None = None  # the "for you" tab's

    @property
    def id(self) -> str:
        return self.post.id


def product_id_of(post: Post) -> str | None:
    product = post.product
    if isinstance(product, dict) and isinstance(product.get("product_id"), str):
        return product["product_id"]  # type: ignore[no-any-return]
    return None


async def present(
    db: AsyncSession,
    rt: Runtime,
    posts: Sequence[Post],
    viewer: Caller,
) -> list[PostView]:
    """Posts as the viewer sees them (author, liked_by_me; flags only for the author and
    moderators; product cards rendered for the viewer's risk profile)."""
    if not posts:
        return []
    ids = [p.id for p in posts]
    wanted = {i for i in map(product_id_of, posts) if i is not None}
    cards = await products.render(db, wanted, await products.risk_profile_of(db, viewer)) if wanted else {}
    own = {i for p in posts if p.author_id == viewer.id and (i := product_id_of(p)) is not None}
    # an author sees the card they embedded as it is (readers: as suits them)
    own_cards = await products.render(db, own, products.ANY_RISK) if own else {}
    authors = await auth.profiles(db, {p.author_id for p in posts})
    liked = set(
        (
            await db.execute(
                select(PostLike.post_id).where(PostLike.user_id == viewer.id, PostLike.post_id.in_(ids))  # type: ignore[attr-defined]
            )
        ).scalars()
    )
    window = timedelta(seconds=content_settings(rt).edit_window_s)
    mod = is_moderator(viewer)
    out = []
    for p in posts:
        mine = p.author_id == viewer.id
        out.append(
            PostView(
                post=p,
                author=authors.get(p.author_id),
                images=[media.Image.of(rt, m["id"], width=m["width"], height=m["height"]) for m in p.media],
                liked_by_me=p.id in liked,
                flags=list(p.flags) if (mine or mod) else [],
                editable_until=p.created_at + window if mine else None,
                product=(own_cards if mine else cards).get(product_id_of(p) or ""),
            )
        )
    return out


# --- a page of posts as one reader sees it, as plain values (the feeds' hot path) -------------
#
# ``present`` + ``PostPublic.of`` build three models per post and cost a statement each for
# the authors and the likes; a feed page instead reads its posts with their authors' card
# columns and the reader's likes in the statement that finds them (``reader_select``) and is
# built as plain values in ``PostPublic``'s shape (``public_items``), serialised once.
# ``tests/content/test_feed.py`` checks that both give the same JSON.

PUBLIC_COLUMNS = (
    Post.id,
    Post.kind,
    Post.source,
    Post.badge,
    Post.title,
    Post.text,
    Post.media,
    Post.product,
    Post.status,
    Post.author_id,
    Post.like_count,
    Post.comment_count,
    Post.accepted_comment_id,
    Post.flags,
    Post.created_at,
    Post.edited_at,
)


_people = auth.profiles_sql()


def reader_select(*extra: Any) -> Select[Any]:
    """``PUBLIC_COLUMNS`` (and ``extra``) of posts with their author's card columns
    (``_author_name``, ``_author_avatar``, ``_author_roles``; null when the author is gone)
    and ``_liked`` (the reader, bound as ``reader_id``, liked it), for one statement that
    finds a page and all it shows. Build it once (at import): making a statement costs
    more than running a cached one."""
    liked = (
        select(PostLike.post_id)
        .where(PostLike.post_id == Post.id, PostLike.user_id == bindparam("reader_id"))
        .exists()
        .label("_liked")
    )
    return (
        select(
            *PUBLIC_COLUMNS,
            *extra,
            _people.c.display_name.label("_author_name"),
            _people.c.avatar_url.label("_author_avatar"),
            _people.c.roles.label("_author_roles"),
            liked,
        )
        .select_from(Post)
        .outerjoin(_people, _people.c.id == Post.author_id)
    )


def _author(row: Any) -> dict[str, Any]:
    if row._author_name is None:
        return {"id": row.author_id, "display_name": "", "avatar_url": None, "badge": None}
    return {
        "id": row.author_id,
        "display_name": row._author_name,
        "avatar_url": row._author_avatar,
        "badge": auth_names.badge_of(r for r in row._author_roles.split(",") if r),
    }


async def public_items(
    db: AsyncSession,
    rt: Runtime,
    rows: Sequence[Any],
    viewer: Caller,
    *,
    cards: dict[str, ProductCard] | None = None,
    reasons: Sequence[FeedReason | None] | None = None,
) -> list[dict[str, Any]]:
    """Rows of ``reader_select`` as ``PostPublic`` values for the viewer (same rules as
    ``present``); ``cards``: the products already rendered for the viewer's risk profile
    (the rest are rendered here, one statement); ``reasons``: the "for you" reasons."""
    if not rows:
        return []
    mine = {i: row.author_id == viewer.id for i, row in enumerate(rows)}
    wanted = {p for i, row in enumerate(rows) if not mine[i] and (p := _product_id(row.product)) is not None}
    have = dict(cards or {})
    if wanted - have.keys():
        risk = await products.risk_profile_of(db, viewer)
        have |= await products.render(db, wanted - have.keys(), risk)
    own = {p for i, row in enumerate(rows) if mine[i] and (p := _product_id(row.product)) is not None}
    own_cards = await products.render(db, own, products.ANY_RISK) if own else {}
    values = products.card_values({i: have[i] for i in wanted})
    own_values = products.card_values(own_cards)
    window = timedelta(seconds=content_settings(rt).edit_window_s)
    mod = is_moderator(viewer)
    out = []
    for i, row in enumerate(rows):
        pid = _product_id(row.product)
        reason = reasons[i] if reasons is not None else None
        out.append(
            {
                "id": row.id,
                "kind": row.kind,
                "source": row.source,
                "badge": row.badge,
                "title": row.title,
                "text": row.text,
                "media": [
                    {
                        "id": m["id"],
                        "url": media.media_url(rt, m["id"], "original"),
                        "thumb_url": media.media_url(rt, m["id"], "thumb"),
                        "width": m["width"],
                        "height": m["height"],
                    }
                    for m in row.media or ()
                ],
                "product": (own_values if mine[i] else values).get(pid) if pid is not None else None,
                "status": row.status,
                "author": _author(row),
                "like_count": row.like_count,
                "comment_count": row.comment_count,
                "liked_by_me": bool(row._liked),
                "accepted_comment_id": row.accepted_comment_id,
                "flags": list(row.flags or ()) if (mine[i] or mod) else [],
                "created_at": row.created_at,
                "edited_at": row.edited_at,
                "editable_until": row.created_at + window if mine[i] else None,
                "reason": reason.model_dump() if reason is not None else None,
            }
        )
    return out


def _product_id(product: Any) -> str | None:
    if isinstance(product, dict) and isinstance(product.get("product_id"), str):
        return product["product_id"]  # type: ignore[no-any-return]
    return None


# --- access -------------------------------------------------------------------------------


async def access_post(
    db: AsyncSession, rt: Runtime, *, viewer: Caller, post_id: str, lock: bool = False
) -> Post:
    """The post if the viewer may see it. Raises NotFound (also for what they may not see)."""
    q = select(Post).where(Post.id == post_id)
    if lock:
        q = q.with_for_update()
    post = (await db.execute(q)).scalar_one_or_none()
    if post is None or post.status == Status.DELETED:
        raise NotFound("no such post")
    if post.author_id == viewer.id or is_moderator(viewer):
        return post
    if (
        post.status != Status.PUBLISHED
        or await friends.is_blocked_either(db, viewer.id, post.author_id)
        or await moderation.muted_until(db, user_id=post.author_id, now=rt.clock.now()) is not None
    ):
        raise NotFound("no such post")
    return post


async def check_product(db: AsyncSession, product: ProductRef | None) -> None:
    """A post embeds a product of the catalogue that is offered, by id. Raises ValidationFailed."""
    if product is None:
        return
    found = await products.products_by_id(db, [product.product_id])
    p = found.get(product.product_id)
    if p is None or p.status != "active":
        raise ValidationFailed(
            "no such product in the catalogue", field="product.product_id", reason="unknown_product"
        )


async def _own_media(db: AsyncSession, *, owner_id: str, media_ids: list[str]) -> list[dict[str, Any]]:
    """The snapshot of the author's own images, in the order given. Raises ValidationFailed."""
    if not media_ids:
        return []
    if len(set(media_ids)) != len(media_ids):
        raise ValidationFailed("an image is listed twice", field="media_ids")
    rows = await media.owned(db, owner_id=owner_id, media_ids=media_ids)
    missing = [i for i in media_ids if i not in rows]
    if missing:
        raise ValidationFailed("unknown images (upload them first)", field="media_ids", ids=missing)
    return [{"id": i, "width": rows[i].width, "height": rows[i].height} for i in media_ids]


def _verdict_status(verdict: Any) -> tuple[Status, list[str]]:
    if verdict.action == "review":
        return Status.PENDING_REVIEW, verdict.categories
    return Status.PUBLISHED, verdict.categories


async def _hold_for_review(
    db: AsyncSession, rt: Runtime, *, kind: str, target_id: str, author_id: str, verdict: Any
) -> None:
    await moderation.enqueue(
        db,
        rt,
        target_kind=kind,
        target_id=target_id,
        author_id=author_id,
        reason="filter",
        details={"categories": verdict.categories, "hits": verdict.hits},
    )


# --- posts ----------------------------------------------------------------------------------


async def create_post(db: AsyncSession, rt: Runtime, *, author: Caller, body: PostCreate) -> PostView:
    """Publish a post, or hold it for review when the filter says so.

    PGC when the author is an advisor or editor. Raises ValidationFailed (article without
    a title, foreign images, bad product link, blocked terms), Forbidden (muted)."""
    cs = content_settings(rt)
    if body.kind == PostKind.ARTICLE and not body.title:
        raise ValidationFailed("an article needs a title", field="title")
    await check_product(db, body.product)
    async with transaction(db):
        now = rt.clock.now()
        await moderation.check_not_muted(db, user_id=author.id, now=now)
        media = await _own_media(db, owner_id=author.id, media_ids=body.media_ids)
        verdict = await moderation.screen(db, rt, body.title, body.text)
        status, flags = _verdict_status(verdict)
        badge = pgc_badge(author)
        post = Post(
            id=new_id("p_"),
            author_id=author.id,
            kind=PostKind(body.kind),
            source=Source.PGC if badge else Source.UGC,
            badge=badge,
            title=body.title,
            text=body.text,
            media=media,
            product=body.product.model_dump() if body.product else None,
            status=status,
            flags=flags,
            hot_score=hot_key(
                likes=0,
                comments=0,
                created_at=now,
                pgc=badge is not None,
                pgc_boost=cs.pgc_boost,
                half_life_h=cs.hot_half_life_h,
            ),
            created_at=now,
        )
        db.add(post)
        await db.flush()
        await interests.note(
            db, rt, user_id=author.id, action="posted", title=post.title, text=post.text, product=post.product
        )
        if status == Status.PENDING_REVIEW:
            await _hold_for_review(
                db, rt, kind="post", target_id=post.id, author_id=author.id, verdict=verdict
            )
    return (await present(db, rt, [post], author))[0]


async def get_post(db: AsyncSession, rt: Runtime, *, viewer: Caller, post_id: str) -> PostView:
    """One post as the viewer may see it; a read of someone else's post counts towards the
    viewer's content interests (with their consent). Raises NotFound."""
    post = await access_post(db, rt, viewer=viewer, post_id=post_id)
    if post.author_id != viewer.id and post.status == Status.PUBLISHED:
        async with transaction(db):
            await interests.note(
                db,
                rt,
                user_id=viewer.id,
                action="read",
                title=post.title,
                text=post.text,
                product=post.product,
            )
    return (await present(db, rt, [post], viewer))[0]


async def update_post(
    db: AsyncSession, rt: Runtime, *, user: Caller, post_id: str, body: PostUpdate
) -> PostView:
    """Edit my post within the edit window (business clock); the new text is screened again.

    Locks the post. Raises NotFound, Forbidden (not the author, muted), Conflict (window
    closed, removed), ValidationFailed."""
    cs = content_settings(rt)
    await check_product(db, body.product)
    given = body.model_fields_set
    async with transaction(db):
        now = rt.clock.now()
        post = await access_post(db, rt, viewer=user, post_id=post_id, lock=True)
        if post.author_id != user.id:
            raise Forbidden("only the author edits a post")
        await moderation.check_not_muted(db, user_id=user.id, now=now)
        if post.status == Status.REMOVED:
            raise Conflict("a removed post cannot be edited", reason="removed")
        if now - post.created_at > timedelta(seconds=cs.edit_window_s):
            raise Conflict(
                "posts can be edited only within the edit window",
                reason="edit_window_closed",
                window_s=cs.edit_window_s,
            )
        title = body.title if "title" in given else post.title
        text = body.text if "text" in given and body.text is not None else post.text
        if post.kind == PostKind.ARTICLE and not title:
            raise ValidationFailed("an article needs a title", field="title")
        if "media_ids" in given:
            post.media = await _own_media(db, owner_id=user.id, media_ids=body.media_ids or [])
        if "product" in given:
            post.product = body.product.model_dump() if body.product else None
        verdict = await moderation.screen(db, rt, title, text)
        status, flags = _verdict_status(verdict)
        post.title, post.text, post.flags, post.edited_at = title, text, flags, now
        if status == Status.PENDING_REVIEW:
            post.status = status
            await _hold_for_review(db, rt, kind="post", target_id=post.id, author_id=user.id, verdict=verdict)
        await db.flush()
    return (await present(db, rt, [post], user))[0]


async def delete_post(db: AsyncSession, rt: Runtime, *, user: Caller, post_id: str) -> None:
    """Delete my post (any time). Raises NotFound, Forbidden (not the author)."""
    async with transaction(db):
        post = await access_post(db, rt, viewer=user, post_id=post_id, lock=True)
        if post.author_id != user.id:
            raise Forbidden("only the author deletes a post")
        post.status = Status.DELETED


# --- comments and answers --------------------------------------------------------------------


@dataclass(frozen=True)
class CommentView:
    comment: Comment
    author: Caller | None
    is_answer: bool  # a top-level comment on a question
    accepted: bool  # the answer the asker accepted

    @property
    def id(self) -> str:
        return self.comment.id


def _comment_view(c: Comment, post: Post, author: Caller | None) -> CommentView:
    return CommentView(
        comment=c,
        author=author,
        is_answer=post.kind == PostKind.QUESTION and c.reply_to is None,
        accepted=post.accepted_comment_id == c.id,
    )


async def add_comment(
    db: AsyncSession, rt: Runtime, *, user: Caller, post_id: str, body: CommentCreate
) -> CommentView:
    """Comment on a published post (an answer, on a question), or reply to a comment.

    Raises NotFound, Forbidden (muted), ValidationFailed (blocked terms, bad reply_to)."""
    async with transaction(db):
        now = rt.clock.now()
        post = await access_post(db, rt, viewer=user, post_id=post_id)
        if post.status != Status.PUBLISHED:
            raise Conflict("only published posts take comments", reason="not_published")
        await moderation.check_not_muted(db, user_id=user.id, now=now)
        if body.reply_to is not None:
            parent = await db.get(Comment, body.reply_to)
            if parent is None or parent.post_id != post.id or parent.status != Status.PUBLISHED:
                raise ValidationFailed("reply_to is not a comment of this post", field="reply_to")
        verdict = await moderation.screen(db, rt, body.text)
        status, flags = _verdict_status(verdict)
        comment = Comment(
            id=new_id("cm_"),
            post_id=post.id,
            author_id=user.id,
            reply_to=body.reply_to,
            text=body.text,
            status=status,
            flags=flags,
            created_at=now,
        )
        db.add(comment)
        await db.flush()
        if status == Status.PUBLISHED:
            await counters.bump(db, rt, post.id, comments=1)
        else:
            await _hold_for_review(
                db, rt, kind="comment", target_id=comment.id, author_id=user.id, verdict=verdict
            )
    return _comment_view(comment, post, user)


async def list_comments(
    db: AsyncSession, rt: Runtime, *, viewer: Caller, post_id: str, limit: int, cursor: str | None
) -> Chunk[CommentView]:
    """A post's comments, oldest first (mine also while pending; blocked users' hidden). Raises NotFound."""
    post = await access_post(db, rt, viewer=viewer, post_id=post_id)
    after = decode_cursor(cursor, ID_CURSOR)
    q = select(Comment).where(Comment.post_id == post.id)
    if not is_moderator(viewer):
        q = q.where((Comment.status == Status.PUBLISHED) | (Comment.author_id == viewer.id))
        q = q.where(friends.unblocked_sql(viewer.id, Comment.author_id))
    if after is not None:
        q = q.where(Comment.id > str(after))
    rows = list((await db.execute(q.order_by(Comment.id).limit(limit + 1))).scalars())
    authors = await auth.profiles(db, {c.author_id for c in rows[:limit]})
    items = [_comment_view(c, post, authors.get(c.author_id)) for c in rows[:limit]]
    return Chunk(items, next_cursor=encode_cursor(rows[limit - 1].id) if len(rows) > limit else None)


async def accept_answer(
    db: AsyncSession, rt: Runtime, *, user: Caller, post_id: str, comment_id: str
) -> CommentView:
    """The asker accepts one answer (idempotent for the same one); its author earns creator points.

    Raises NotFound, Forbidden (not the asker), ValidationFailed (not a question, not an
    answer, own answer), Conflict (another answer was accepted)."""
    async with transaction(db):
        now = rt.clock.now()
        post = await access_post(db, rt, viewer=user, post_id=post_id)
        if post.author_id != user.id:
            raise Forbidden("only the asker accepts an answer")
        if post.kind != PostKind.QUESTION:
            raise ValidationFailed("only questions have answers to accept", field="post_id")
        comment = await db.get(Comment, comment_id)
        if comment is None or comment.post_id != post.id:
            raise NotFound("no such answer")
        if comment.reply_to is not None or comment.status != Status.PUBLISHED:
            raise ValidationFailed("that comment is not an answer", field="comment_id")
        if comment.author_id == user.id:
            raise ValidationFailed("you cannot accept your own answer", field="comment_id")
        won = await db.scalar(
            update(Post)
            .where(Post.id == post.id, Post.accepted_comment_id.is_(None))  # type: ignore[union-attr]
            .values(accepted_comment_id=comment.id, accepted_at=now)
            .returning(Post.id)
            .execution_options(synchronize_session=False)
        )
        if won is None:
            current = await db.scalar(select(Post.accepted_comment_id).where(Post.id == post.id))
            if current != comment.id:
                raise Conflict("another answer is already accepted", reason="already_accepted")
        else:
            post.accepted_comment_id = comment.id
            creators.after_commit_score(
                db,
                rt,
                user_id=comment.author_id,
                delta=content_settings(rt).points_per_accepted_answer,
                at=now,
            )
        author = await auth.get_profile(db, comment.author_id)
    return _comment_view(comment, post, author)


# --- likes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Liked:
    post_id: str
    liked: bool  # by me, now
    like_count: int


async def like(db: AsyncSession, rt: Runtime, *, user: Caller, post_id: str) -> Liked:
    """Like a published post (idempotent); the count moves exactly once. Raises NotFound."""
    async with transaction(db):
        now = rt.clock.now()
        post = await access_post(db, rt, viewer=user, post_id=post_id)
        if post.status != Status.PUBLISHED:
            raise NotFound("no such post")
        inserted = await db.scalar(
            insert_ignore(
                PostLike,
                {"post_id": post.id, "user_id": user.id, "author_id": post.author_id, "created_at": now},
            )
        )
        if inserted is not None:
            count = (await counters.bump(db, rt, post.id, likes=1)).like_count
            await interests.note(
                db,
                rt,
                user_id=user.id,
                action="liked",
                title=post.title,
                text=post.text,
                product=post.product,
            )
            if post.author_id != user.id:
                creators.after_commit_score(
                    db, rt, user_id=post.author_id, delta=content_settings(rt).points_per_like, at=now
                )
        else:
            count = int(await db.scalar(select(Post.like_count).where(Post.id == post.id)) or 0)
    return Liked(post_id=post.id, liked=True, like_count=count)


async def unlike(db: AsyncSession, rt: Runtime, *, user: Caller, post_id: str) -> Liked:
    """Take my like back (idempotent); the author's creator points go back down. Raises NotFound."""
    async with transaction(db):
        post = await access_post(db, rt, viewer=user, post_id=post_id)
        count = await _take_like_back(db, rt, post_id=post.id, user_id=user.id)
        if count is None:
            count = int(await db.scalar(select(Post.like_count).where(Post.id == post.id)) or 0)
    return Liked(post_id=post.id, liked=False, like_count=count)


async def _take_like_back(db: AsyncSession, rt: Runtime, *, post_id: str, user_id: str) -> int | None:
    """Delete the member's like of a post: its count moves down once and the author's
    creator points go back down (after commit). Returns the post's like count now, None
    when there was no like. In the caller's transaction; locks the post row (``bump``)."""
    removed = (
        await db.execute(
            delete(PostLike)
            .where(col(PostLike.post_id) == post_id, col(PostLike.user_id) == user_id)
            .returning(col(PostLike.created_at), col(PostLike.author_id))
        )
    ).one_or_none()
    if removed is None:
        return None
    count = (await counters.bump(db, rt, post_id, likes=-1)).like_count
    liked_at, author_id = removed
    if author_id != user_id:
        # Subtract from the periods the like was counted in.
        creators.after_commit_score(
            db, rt, user_id=author_id, delta=-content_settings(rt).points_per_like, at=liked_at
        )
    return count


# --- follows --------------------------------------------------------------------------------


async def _follow_counts(db: AsyncSession, user_id: str) -> tuple[int, int]:
    followers = await db.scalar(select(func.count()).select_from(Follow).where(Follow.followee_id == user_id))
    following = await db.scalar(select(func.count()).select_from(Follow).where(Follow.follower_id == user_id))
    return int(followers or 0), int(following or 0)


@dataclass(frozen=True)
class Followed:
    user_id: str
    following: bool  # by me, now
    follower_count: int
    following_count: int


async def follow(db: AsyncSession, rt: Runtime, *, user: Caller, target_id: str, on: bool) -> Followed:
    """Follow (``on``) or unfollow a user, idempotently; counts are derived from the rows.

    Raises NotFound (unknown user or blocked either way), ValidationFailed (myself)."""
    if target_id == user.id:
        raise ValidationFailed("you cannot follow yourself", field="user_id")
    async with transaction(db):
        if not await auth.user_exists(db, target_id):
            raise NotFound("no such user")
        if on:
            if await friends.is_blocked_either(db, user.id, target_id):
                raise NotFound("no such user")
            await db.execute(
                insert_ignore(
                    Follow,
                    {"follower_id": user.id, "followee_id": target_id, "created_at": rt.clock.now()},
                )
            )
        else:
            await db.execute(
                delete(Follow).where(Follow.follower_id == user.id, Follow.followee_id == target_id)
            )
        followers, following = await _follow_counts(db, target_id)
    return Followed(user_id=target_id, following=on, follower_count=followers, following_count=following)


# --- reports --------------------------------------------------------------------------------


async def report(db: AsyncSession, rt: Runtime, *, user: Caller, post_id: str, reason: str) -> None:
    """Report a post (once per user); at the threshold it is hidden and queued for review.

    Raises NotFound, ValidationFailed (my own post)."""
    cs = content_settings(rt)
    async with transaction(db):
        now = rt.clock.now()
        post = await access_post(db, rt, viewer=user, post_id=post_id)
        if post.author_id == user.id:
            raise ValidationFailed("you cannot report your own post", field="post_id")
        inserted = await db.scalar(
            insert_ignore(
                PostReport,
                {"post_id": post.id, "reporter_id": user.id, "reason": reason, "created_at": now},
            )
        )
        if inserted is not None:
            counts = await counters.bump(db, rt, post.id, reports=1)
            # Exactly one report crosses the threshold (the counter moves under the row lock).
            if counts.report_count == cs.report_threshold:
                held = await db.scalar(
                    update(Post)
                    .where(Post.id == post.id, Post.status == Status.PUBLISHED)
                    .values(status=Status.PENDING_REVIEW)
                    .returning(Post.id)
                    .execution_options(synchronize_session=False)
                )
                if held is not None:
                    reasons = (
                        await db.execute(
                            select(PostReport.reason).where(PostReport.post_id == post.id).limit(20)
                        )
                    ).scalars()
                    await moderation.enqueue(
                        db,
                        rt,
                        target_kind="post",
                        target_id=post.id,
                        author_id=post.author_id,
                        reason="reports",
                        details={"reports": counts.report_count, "reasons": list(reasons)},
                    )


# --- moderation: what it judges and how its decisions apply (``content/posts/hooks.py``) ------


async def post_snapshot(db: AsyncSession, post_id: str) -> dict[str, Any]:
    post = await db.get(Post, post_id)
    if post is None:
        return {"status": moderation.MISSING}
    return {
        "kind": post.kind,
        "title": post.title,
        "text": post.text,
        "status": post.status,
        "media": [m["id"] for m in post.media],
    }


async def comment_snapshot(db: AsyncSession, comment_id: str) -> dict[str, Any]:
    comment = await db.get(Comment, comment_id)
    if comment is None:
        return {"status": moderation.MISSING}
    return {"post_id": comment.post_id, "text": comment.text, "status": comment.status}


async def _locked(db: AsyncSession, model: Any, target_id: str) -> Any:
    return (
        await db.execute(select(model).where(model.id == target_id).with_for_update())
    ).scalar_one_or_none()


async def publish_post(db: AsyncSession, rt: Runtime, post_id: str, published: bool) -> str:
    """A moderator's decision: publish or remove the post (not once its author deleted it).
    Locks the post; returns its status now."""
    post = await _locked(db, Post, post_id)
    if post is None:
        return moderation.MISSING
    if post.status != Status.DELETED:
        post.status = Status.PUBLISHED if published else Status.REMOVED
        # A removed post's images are not served any more (404), until it is published again.
        await media.set_withdrawn(db, rt, media_ids=[m["id"] for m in post.media], withdrawn=not published)
    return str(post.status)


async def publish_comment(db: AsyncSession, rt: Runtime, comment_id: str, published: bool) -> str:
    """A moderator's decision: publish or remove the comment; its post counts published
    comments only. Locks the comment; returns its status now."""
    comment = await _locked(db, Comment, comment_id)
    if comment is None:
        return moderation.MISSING
    old, comment.status = comment.status, Status.PUBLISHED if published else Status.REMOVED
    delta = (comment.status == Status.PUBLISHED) - (old == Status.PUBLISHED)
    if delta:
        await db.flush()
        await counters.bump(db, rt, comment.post_id, comments=delta)
    return str(comment.status)


async def recent_by_author(db: AsyncSession, *, author_id: str, limit: int = 10) -> list[Post]:
    """An author's latest posts in any state but deleted, newest first (staff views)."""
    rows = await db.execute(
        select(Post)
        .where(Post.author_id == author_id, Post.status != Status.DELETED)
        .order_by(col(Post.id).desc())
        .limit(limit)
    )
    return list(rows.scalars().all())


async def recent_posts_snapshot(db: AsyncSession, author_id: str, limit: int) -> list[dict[str, Any]]:
    """What a moderator sees of an author's latest posts (``content/posts/hooks.py``)."""
    return [
        {
            "id": p.id,
            "title": p.title,
            "excerpt": p.text[:80],
            "status": str(p.status),
            "report_count": p.report_count,
            "created_at": p.created_at,
        }
        for p in await recent_by_author(db, author_id=author_id, limit=limit)
    ]


# --- a member's data (app/profile) -------------------------------------------------------------


async def personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> dict[str, Any]:
    """What content holds about a member: posts and comments they wrote, posts they liked,
    who they follow (their export's ``content`` section)."""
    posts = (await db.execute(select(Post).where(Post.author_id == user_id).order_by(Post.id))).scalars()
    comments = (
        await db.execute(select(Comment).where(Comment.author_id == user_id).order_by(Comment.id))
    ).scalars()
    likes = (
        await db.execute(select(PostLike).where(PostLike.user_id == user_id).order_by(PostLike.created_at))
    ).scalars()
    follows = (
        await db.execute(select(Follow).where(Follow.follower_id == user_id).order_by(Follow.created_at))
    ).scalars()
    return {
        "posts": [
            {
                "id": p.id,
                "kind": str(p.kind),
                "title": p.title,
                "text": p.text,
                "media": p.media,
                "product": p.product,
                "status": str(p.status),
                "created_at": p.created_at.isoformat(),
            }
            for p in posts
        ],
        "comments": [
            {
                "id": c.id,
                "post_id": c.post_id,
                "text": c.text,
                "status": str(c.status),
                "created_at": c.created_at.isoformat(),
            }
            for c in comments
        ],
        "likes": [{"post_id": lk.post_id, "created_at": lk.created_at.isoformat()} for lk in likes],
        "follows": [{"user_id": f.followee_id, "created_at": f.created_at.isoformat()} for f in follows],
    }


ERASED_TEXT = "[已删除]"  # what stands where an erased member's comment was


async def erase_personal_data(db: AsyncSession, rt: Runtime, user_id: str) -> None:
    """An erased member's posts are deleted and emptied, their follows (both ways) gone;
    their likes are taken back (each post's count and its author's creator points move
    down once, as an unlike); their comments keep their place in others' threads (replies
    and counts stay right) with the text replaced by ``ERASED_TEXT``, under the
    pseudonymised author; the reasons they gave in reports are emptied the same way."""
    # Their posts' images are served no more (as for a removed post).
    posted = (await db.execute(select(Post.media).where(col(Post.author_id) == user_id))).scalars()
    media_ids = [m["id"] for media_list in posted for m in media_list]
    if media_ids:
        await media.set_withdrawn(db, rt, media_ids=media_ids, withdrawn=True)
    await db.execute(
        update(Post)
        .where(col(Post.author_id) == user_id)
        .values(status=Status.DELETED, title=None, text="", media=[], product=None)
    )
    await db.execute(
        delete(Follow).where((col(Follow.follower_id) == user_id) | (col(Follow.followee_id) == user_id))
    )
    liked = (
        await db.execute(
            select(PostLike.post_id).where(col(PostLike.user_id) == user_id).order_by(col(PostLike.post_id))
        )
    ).scalars()
    for post_id in list(liked):  # in post order: the same lock order as any other erasure
        await _take_like_back(db, rt, post_id=post_id, user_id=user_id)
    await db.execute(
        update(Comment).where(col(Comment.author_id) == user_id).values(text=ERASED_TEXT, flags=[])
    )
    await db.execute(
        update(PostReport).where(col(PostReport.reporter_id) == user_id).values(reason=ERASED_TEXT)
    )
