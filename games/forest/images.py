"""Forest pictures (Pillow): the home-screen widget and a tree's certificate.

Rendering is a pure function of a small frozen state, so the same state gives the same
bytes; results are cached in-process by that state (an LRU), and the API sends an ETag
derived from it. Callers run these in a worker thread (``anyio.to_thread.run_sync``).
Chinese text uses Noto Sans CJK SC, found at run time (``app/fonts.py``).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from app.fonts import cjk_font

WIDGET_SIZE = (480, 240)
CERTIFICATE_SIZE = (800, 600)


def _font(size: int) -> ImageFont.FreeTypeFont:
    return cjk_font(size)


@dataclass(frozen=True)
class WidgetState:
    display_name: str
    trees_planted: int
    energy_g: int
    today_g: int
    next_species: str
    next_cost_g: int
    stage: int
    stage_name: str
    stages: int


@dataclass(frozen=True)
class CertificateState:
    tree_id: str
    owner_name: str
    species_name: str
    region: str
    cost_g: int
    planted_on: str  # YYYY-MM-DD in the bank's zone


def etag(state: WidgetState | CertificateState) -> str:
    return '"' + hashlib.sha256(repr(state).encode()).hexdigest()[:32] + '"'


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def _tree(draw: ImageDraw.ImageDraw, x: int, base_y: int, scale: float, color: str = "#2e7d32") -> None:
    trunk_h = int(40 * scale)
    trunk_w = max(3, int(8 * scale))
    draw.rectangle([x - trunk_w // 2, base_y - trunk_h, x + trunk_w // 2, base_y], fill="#795548")
    r = int(28 * scale)
    cy = base_y - trunk_h - r // 2
    draw.ellipse([x - r, cy - r, x + r, cy + r], fill=color)


@lru_cache(maxsize=512)
def render_widget(state: WidgetState) -> bytes:
    """The user's forest at a glance: trees planted, the growing tree, today's energy."""
    w, h = WIDGET_SIZE
    img = Image.new("RGB", (w, h), "#e8f5e9")
    d = ImageDraw.Draw(img)
    d.rectangle([0, h - 40, w, h], fill="#a5d6a7")
    d.text((16, 12), f"{state.display_name} 的森林", font=_font(22), fill="#1b5e20")
    d.text((16, 46), f"已种树 {state.trees_planted} 棵", font=_font(18), fill="#33691e")
    d.text((16, 74), f"今日能量 {state.today_g} g", font=_font(18), fill="#33691e")
    d.text((16, 102), f"可用能量 {state.energy_g} g", font=_font(18), fill="#33691e")
    # the growing tree, by stage
    stages = max(1, state.stages)
    scale = 0.35 + 0.65 * (state.stage / max(1, stages - 1))
    _tree(d, 360, h - 40, scale * 1.6)
    d.text((290, h - 34), state.stage_name, font=_font(16), fill="#1b5e20")
    # progress toward the next tree
    pct = min(1.0, state.energy_g / state.next_cost_g) if state.next_cost_g else 0.0
    d.text((16, 140), f"下一棵：{state.next_species}", font=_font(16), fill="#33691e")
    d.rectangle([16, 168, 236, 182], outline="#1b5e20", width=1)
    d.rectangle([17, 169, 17 + int(218 * pct), 181], fill="#43a047")
    d.text((16, 186), f"{state.energy_g}/{state.next_cost_g} g", font=_font(14), fill="#33691e")
    # small icons for planted trees (up to 8)
    for i in range(min(state.trees_planted, 8)):
        _tree(d, 270 + i * 26 - (0 if i < 4 else 104), (h - 44) if i < 4 else (h - 110), 0.35, "#388e3c")
    return _png(img)


@lru_cache(maxsize=512)
def render_certificate(state: CertificateState) -> bytes:
    """A planting certificate: species, region, date and the owner's name."""
    w, h = CERTIFICATE_SIZE
    img = Image.new("RGB", (w, h), "#fffdf5")
    d = ImageDraw.Draw(img)
    d.rectangle([16, 16, w - 16, h - 16], outline="#2e7d32", width=6)
    d.rectangle([30, 30, w - 30, h - 30], outline="#a5d6a7", width=2)
    title = "植树证书"
    tw = d.textlength(title, font=_font(48))
    d.text(((w - tw) / 2, 60), title, font=_font(48), fill="#1b5e20")
    sub = "Certificate of Tree Planting"
    sw = d.textlength(sub, font=_font(20))
    d.text(((w - sw) / 2, 124), sub, font=_font(20), fill="#558b2f")
    lines = [
        f"兹证明 {state.owner_name}",
        f"于 {state.planted_on}",
        f"在 {state.region}",
        f"种下一棵 {state.species_name}",
        f"消耗绿色能量 {state.cost_g} g",
    ]
    y = 190
    for line in lines:
        lw = d.textlength(line, font=_font(28))
        d.text(((w - lw) / 2, y), line, font=_font(28), fill="#263238")
        y += 48
    _tree(d, w - 110, h - 60, 1.2)
    d.text((50, h - 70), f"编号 No. {state.tree_id}", font=_font(16), fill="#607d8b")
    d.text((50, h - 48), "圈子森林 Quanzi Forest", font=_font(16), fill="#607d8b")
    return _png(img)
