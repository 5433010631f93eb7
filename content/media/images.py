"""Image intake with Pillow: identify by content, refuse bombs, strip metadata, resize.

``process`` is synchronous and CPU-bound; callers run it in a worker thread. Order
matters: the format and the pixel count come from the header (``Image.open`` is lazy),
so a decompression bomb is refused before a single pixel is decoded; only then is the
image decoded, turned upright by its EXIF orientation, and re-encoded into a fresh
image that carries no metadata at all (no EXIF, no GPS, no text chunks, no ICC).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

FORMATS = ("JPEG", "PNG", "WEBP")


class ImageRejected(Exception):
    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


@dataclass
class Variant:
    data: bytes
    width: int
    height: int


@dataclass
class Processed:
    content_type: str
    ext: str
    original: Variant
    thumb: Variant


def _encode(img: Image.Image, long_side: int, fmt: str) -> Variant:
    copy = img.copy()
    copy.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    # A fresh image from the raw pixels: nothing of the upload's metadata can come along.
    clean = Image.frombytes(copy.mode, copy.size, copy.tobytes())
    out = io.BytesIO()
    if fmt == "JPEG":
        clean.save(out, "JPEG", quality=85, optimize=True)
    else:
        clean.save(out, "PNG")
    return Variant(out.getvalue(), clean.width, clean.height)


def process(data: bytes, *, max_pixels: int, original_px: int, thumb_px: int) -> Processed:
    """Validate and re-encode an upload. Raises ImageRejected (``too_large`` for bombs)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data), formats=FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected("the image has too many pixels", too_large=True) from exc
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise ImageRejected("not a JPEG, PNG or WebP image") from exc
        width, height = img.size
        if width <= 0 or height <= 0:
            raise ImageRejected("the image has no pixels")
        if width * height > max_pixels:
            raise ImageRejected(f"the image has more than {max_pixels} pixels", too_large=True)
        try:
            img.load()
            upright = ImageOps.exif_transpose(img)
            has_alpha = upright.mode in ("RGBA", "LA", "PA") or (
                upright.mode == "P" and "transparency" in upright.info
            )
            flat = upright.convert("RGBA" if has_alpha else "RGB")
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise ImageRejected("the image is truncated or corrupt") from exc
    fmt = "PNG" if has_alpha else "JPEG"
    return Processed(
        content_type="image/png" if has_alpha else "image/jpeg",
        ext="png" if has_alpha else "jpg",
        original=_encode(flat, original_px, fmt),
        thumb=_encode(flat, thumb_px, fmt),
    )
