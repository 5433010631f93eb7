"""The Chinese font every rendered picture uses (widgets, certificates, the share poster).

Found at run time: Debian's ``fonts-noto-cjk`` (Noto Sans CJK, OFL) where it is installed,
else the ``pylopdf-fonts-zh-cn`` package's Noto Sans SC. ``QUANZI_CJK_FONT`` names a file
to use instead. Without any, rendering fails with one clear ``FontMissing`` message.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

DEBIAN_NOTO = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
    Path("/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc"),
)


class FontMissing(RuntimeError):
    pass


@lru_cache
def cjk_font_path() -> str:
    chosen = os.environ.get("QUANZI_CJK_FONT")
    if chosen:
        if not Path(chosen).is_file():
            raise FontMissing(f"QUANZI_CJK_FONT={chosen} is not a file")
        return chosen
    for path in DEBIAN_NOTO:
        if path.is_file():
            return str(path)
    try:
        import pylopdf_fonts_zh_cn  # type: ignore[import-untyped,unused-ignore]

        return str(pylopdf_fonts_zh_cn.sans_path())
    except ImportError:
        pass
    raise FontMissing(
        "no Chinese font found: install Debian's fonts-noto-cjk (apt-get install fonts-noto-cjk) "
        "or set QUANZI_CJK_FONT to a .ttf/.otf/.ttc file"
    )


@lru_cache(maxsize=64)
def cjk_font(size: int) -> ImageFont.FreeTypeFont:
    """The Chinese font at ``size`` px (cached)."""
    return ImageFont.truetype(cjk_font_path(), size)
