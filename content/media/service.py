"""Media uploads: processed off the event loop, stored, and served back."""

from __future__ import annotations

import re
from dataclasses import dataclass

import anyio
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import urls
from app.db import transaction
from app.errors import NotFound, PayloadTooLarge, ValidationFailed
from app.ids import new_id
from app.runtime import Runtime
from content.config import content_settings
from content.media import images
from content.media.models import Media
from content.media.storage import storage
from content.moderation import service as moderation

VARIANTS = ("original", "thumb")
_ID = re.compile(r"^m_[0-9a-z]{26}$")


def media_url(rt: Runtime, media_id: str, variant: str) -> str:
    return urls.absolute(rt.settings, f"/v1/media/{media_id}/{variant}")


@dataclass(frozen=True)
class Image:
    """An image as clients fetch it: both variants' URLs and the original's size."""

    id: str
    url: str
    thumb_url: str
    width: int
    height: int

    @classmethod
    def of(cls, rt: Runtime, media_id: str, *, width: int, height: int) -> Image:
        return cls(
            media_id, media_url(rt, media_id, "original"), media_url(rt, media_id, "thumb"), width, height
        )


async def owned(db: AsyncSession, *, owner_id: str, media_ids: list[str]) -> dict[str, Media]:
    """Those of ``media_ids`` that ``owner_id`` uploaded, not removed nor withdrawn, by id."""
    q = select(Media).where(
        col(Media.id).in_(media_ids),
        Media.owner_id == owner_id,
        col(Media.removed_at).is_(None),
        col(Media.withdrawn_at).is_(None),  # its post was removed by moderation
    )
    return {m.id: m for m in (await db.execute(q)).scalars()}


async def attachable_image(
    db: AsyncSession, rt: Runtime, *, owner_id: str, media_id: str
) -> dict[str, object]:
    """What a chat image message carries of one of my uploads: its id, both URLs and sizes.
    Raises ValidationFailed (not an upload of mine, or removed)."""
    found = (
        (await owned(db, owner_id=owner_id, media_ids=[media_id])).get(media_id)
        if _ID.match(media_id)
        else None
    )
    if found is None:
        raise ValidationFailed("unknown image (upload it first with POST /v1/media)", field="body.media_id")
    return {
        "media_id": found.id,
        "url": media_url(rt, found.id, "original"),
        "thumb_url": media_url(rt, found.id, "thumb"),
        "width": found.width,
        "height": found.height,
        "thumb_width": found.thumb_width,
        "thumb_height": found.thumb_height,
    }


async def remove(db: AsyncSession, rt: Runtime, *, owner_id: str, media_id: str) -> None:
    """Remove one of my uploads: no longer served nor attachable. Raises NotFound."""
    async with transaction(db):
        row = await db.get(Media, media_id, with_for_update=True) if _ID.match(media_id) else None
        if row is None or row.owner_id != owner_id or row.removed_at is not None:
            raise NotFound("no such media")
        row.removed_at = rt.clock.now()
    store = storage(rt)
    for variant in VARIANTS:
        await store.delete(_key(media_id, variant, row.content_type))


def _key(media_id: str, variant: str, content_type: str) -> str:
    return f"{media_id}/{variant}.{'png' if content_type == 'image/png' else 'jpg'}"


async def upload(db: AsyncSession, rt: Runtime, *, owner_id: str, data: bytes) -> Image:
    """Re-encode and store an image (original ≤ 2048 px, thumbnail ≤ 320 px).

    Raises Forbidden (the uploader is muted: ``reason: "muted"``), PayloadTooLarge (bytes
    or pixels over the caps), ValidationFailed (not a JPEG/PNG/WebP image, truncated or corrupt)."""
    cs = content_settings(rt)
    await moderation.check_not_muted(db, user_id=owner_id, now=rt.clock.now())
    if len(data) > cs.media_max_bytes:
        raise PayloadTooLarge("the file is too large", max_bytes=cs.media_max_bytes)
    try:
        done = await anyio.to_thread.run_sync(
            lambda: images.process(
                data,
                max_pixels=cs.media_max_pixels,
                original_px=cs.media_original_px,
                thumb_px=cs.media_thumb_px,
            )
        )
    except images.ImageRejected as exc:
        if exc.too_large:
            raise PayloadTooLarge(str(exc), reason="too_many_pixels", max_pixels=cs.media_max_pixels) from exc
        raise ValidationFailed(str(exc), field="file") from exc
    media_id = new_id("m_")
    store = storage(rt)
    await store.put(_key(media_id, "original", done.content_type), done.original.data)
    await store.put(_key(media_id, "thumb", done.content_type), done.thumb.data)
    async with transaction(db):
        db.add(
            Media(
                id=media_id,
                owner_id=owner_id,
                content_type=done.content_type,
                width=done.original.width,
                height=done.original.height,
                thumb_width=done.thumb.width,
                thumb_height=done.thumb.height,
                size_bytes=len(done.original.data),
                created_at=rt.clock.now(),
            )
        )
    return Image.of(rt, media_id, width=done.original.width, height=done.original.height)


async def set_withdrawn(db: AsyncSession, rt: Runtime, *, media_ids: list[str], withdrawn: bool) -> None:
    """Stop (or resume) serving these images: a post showing them was removed by a
    moderator (or published again). Flushes in the caller's transaction."""
    if not media_ids:
        return
    await db.execute(
        update(Media)
        .where(col(Media.id).in_(media_ids))
        .values(withdrawn_at=rt.clock.now() if withdrawn else None)
        .execution_options(synchronize_session=False)
    )


@dataclass
class Blob:
    data: bytes
    content_type: str


async def fetch(db: AsyncSession, rt: Runtime, *, media_id: str, variant: str) -> Blob:
    """The stored bytes of one variant. Raises NotFound."""
    if variant not in VARIANTS or not _ID.match(media_id):
        raise NotFound("no such media")
    row = await db.get(Media, media_id)
    if row is None or row.withdrawn_at is not None or row.removed_at is not None:
        raise NotFound("no such media")
    data = await storage(rt).get(_key(media_id, variant, row.content_type))
    if data is None:
        raise NotFound("no such media")
    return Blob(data, row.content_type)
