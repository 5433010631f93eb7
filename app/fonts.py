"""The Chinese font every rendered picture uses (widgets, certificates, the share poster).

Found at run time, from a well-kept source: ``QUANZI_CJK_FONT`` (a file to use), else
Debian's ``fonts-noto-cjk`` (Noto Sans CJK SC, OFL) through fontconfig (``fc-match``) or
at its known paths. Nothing is bundled. Without one, rendering fails with one clear
``FontMissing`` message that says how to install it. The Dockerfile and ``.ci/run``
install ``fonts-noto-cjk``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

# Noto Sans CJK ships as one collection: the face index of Simplified Chinese is 2.
DEBIAN_NOTO = (
    (Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), 2),
    (Path("/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc"), 2),
    (Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"), 2),
)
HOW_TO_INSTALL = (
    "no Chinese font found: install Debian's fonts-noto-cjk (apt-get install fonts-noto-cjk) "
    "or set QUANZI_CJK_FONT to a .ttf/.otf/.ttc file"
)


class FontMissing(RuntimeError):
    pass


def _fc_match() -> tuple[str, int] | None:
    """Fontconfig's Simplified Chinese sans face, if it is a CJK one."""
    fc = shutil.which("fc-match")
    if fc is None:
        return None
    try:
        out = subprocess.run(
            [fc, "-f", "%{file}|%{index}|%{family}", "Noto Sans CJK SC:lang=zh-cn"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    path, _, rest = out.partition("|")
    index, _, family = rest.partition("|")
    if path and Path(path).is_file() and "CJK" in family:
        return path, int(index or 0)
    return None


@lru_cache
def cjk_font_file() -> tuple[str, int]:
    """(path, face index) of the Chinese font. Raises FontMissing."""
    chosen = os.environ.get("QUANZI_CJK_FONT")
    if chosen:
        if not Path(chosen).is_file():
            raise FontMissing(f"QUANZI_CJK_FONT={chosen} is not a file")
        return chosen, 0
    found = _fc_match()
    if found is not None:
        return found
    for path, index in DEBIAN_NOTO:
        if path.is_file():
            return str(path), index
    raise FontMissing(HOW_TO_INSTALL)


def cjk_font_path() -> str:
    return cjk_font_file()[0]


@lru_cache(maxsize=64)
def cjk_font(size: int) -> ImageFont.FreeTypeFont:
    """The Chinese font at ``size`` px (cached). Raises FontMissing."""
    path, index = cjk_font_file()
    return ImageFont.truetype(path, size, index=index)
