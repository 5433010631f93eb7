from __future__ import annotations

from fastapi import APIRouter, Request, Response, UploadFile

from app.deps import CurrentUser, DbSession, Rt
from app.errors import PayloadTooLarge
from content.config import content_settings
from content.media import service as media
from content.media.schemas import MediaPublic

router = APIRouter(tags=["content"])
_MULTIPART_OVERHEAD = 64 * 1024


@router.post("/v1/media", response_model=MediaPublic, status_code=201)
async def upload(request: Request, file: UploadFile, user: CurrentUser, db: DbSession, rt: Rt) -> MediaPublic:
    """Upload an image (multipart field ``file``): JPEG, PNG or WebP, by content. A muted
    user gets 403 `forbidden` with `details.reason: "muted"` and `muted_until`."""
    cap = content_settings(rt).media_max_bytes
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > cap + _MULTIPART_OVERHEAD:
        raise PayloadTooLarge("the file is too large", max_bytes=cap)
    data = await file.read(cap + 1)
    return MediaPublic.model_validate(await media.upload(db, rt, owner_id=user.id, data=data))


@router.get("/v1/media/{media_id}/{variant}")
async def get_media(media_id: str, variant: str, db: DbSession, rt: Rt) -> Response:
    """The image bytes. Public by design (ids are unguessable) so that CDNs and image
    views can cache them, for a short while only (``media_cache_s``): when a moderator
    removes the post that shows an image, the image answers 404 `not_found`."""
    blob = await media.fetch(db, rt, media_id=media_id, variant=variant)
    max_age = content_settings(rt).media_cache_s
    return Response(
        content=blob.data,
        media_type=blob.content_type,
        headers={
            "Cache-Control": f"public, max-age={max_age}",
            "ETag": f'"{media_id}-{variant}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.delete("/v1/media/{media_id}", status_code=204, response_class=Response)
async def remove(media_id: str, user: CurrentUser, db: DbSession, rt: Rt) -> Response:
    """Remove one of my uploads: its URLs answer 404 and it can no longer be attached
    (posts and chat messages that show it keep their text)."""
    await media.remove(db, rt, owner_id=user.id, media_id=media_id)
    return Response(status_code=204)
