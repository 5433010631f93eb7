"""Forest pictures (Pillow): the home-screen widget and a tree's certificate.

Rendering is a pure function of a small frozen state, so the same state gives the same
bytes; results are cached in-process by that state (an LRU), and the API sends an ETag
derived from it. Callers run these in a worker thread (``anyio.to_thread.run_sync``).
Chinese text uses the CJK font ``app.fonts`` finds (Debian's Noto Sans CJK).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from app.fonts import cjk_font, cjk_font_path

WIDGET_SIZE = (480, 240)
CERTIFICATE_SIZE = (800, 600)


def font_path() -> str:
    return cjk_font_path()


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
    ripe_g: tuple[int, ...] = ()  # the ripe balls' grams (what the player comes back for)
    ripening: tuple[tuple[int, int], ...] = ()  # (grams, hours until ripe, rounded up)
    scale: int = 1  # 1, 2 or 3 (@2x, @3x)
    theme: str = "light"  # light | dark


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


THEMES = {
    "light": {
        "bg": "#e8f5e9",
        "ground": "#a5d6a7",
        "title": "#1b5e20",
        "text": "#33691e",
        "bar": "#43a047",
        "ripe": "#76ff03",
        "ripe_edge": "#33691e",
        "growing": "#c5e1a5",
        "trunk": "#795548",
        "leaf": "#2e7d32",
        "small": "#388e3c",
    },
    "dark": {
        "bg": "#0f1f14",
        "ground": "#1e3a25",
        "title": "#c8e6c9",
        "text": "#a5d6a7",
        "bar": "#66bb6a",
        "ripe": "#b2ff59",
        "ripe_edge": "#e8f5e9",
        "growing": "#2e4d33",
        "trunk": "#a1887f",
        "leaf": "#43a047",
        "small": "#2e7d32",
    },
}


def _grown_tree(
    d: ImageDraw.ImageDraw, x: float, base_y: float, stage: int, stages: int, k: int, c: dict[str, str]
) -> None:
    """The growing tree by stage: a sprout, then a sapling, then a tree with a fuller crown."""
    grown = stage / max(1, stages - 1)
    if stage == 0:  # a sprout: a stem and two leaves
        d.line([x, base_y, x, base_y - 22 * k], fill=c["leaf"], width=3 * k)
        d.ellipse([x - 16 * k, base_y - 30 * k, x, base_y - 20 * k], fill=c["leaf"])
        d.ellipse([x, base_y - 34 * k, x + 16 * k, base_y - 24 * k], fill=c["leaf"])
        return
    trunk_h = (30 + 50 * grown) * k
    trunk_w = (6 + 8 * grown) * k
    d.rectangle([x - trunk_w / 2, base_y - trunk_h, x + trunk_w / 2, base_y], fill=c["trunk"])
    r = (20 + 28 * grown) * k
    cy = base_y - trunk_h - r * 0.4
    crowns = [(0, 0)] + ([(-r * 0.6, r * 0.3), (r * 0.6, r * 0.3)] if stage >= 2 else [])
    crowns += [(0, -r * 0.6)] if stage >= 3 else []
    for dx, dy in crowns:
        d.ellipse([x + dx - r, cy + dy - r, x + dx + r, cy + dy + r], fill=c["leaf"])


@lru_cache(maxsize=512)
def render_widget(state: WidgetState) -> bytes:
    """The user's forest at a glance: the growing tree by stage, ripe and ripening energy
    balls, today's energy, trees planted; at @1x/@2x/@3x, light or dark."""
    k = max(1, min(3, state.scale))
    c = THEMES.get(state.theme, THEMES["light"])
    w, h = WIDGET_SIZE
    img = Image.new("RGB", (w * k, h * k), c["bg"])
    d = ImageDraw.Draw(img)
    d.rectangle([0, (h - 40) * k, w * k, h * k], fill=c["ground"])
    d.text((16 * k, 12 * k), f"{state.display_name} 的森林", font=_font(22 * k), fill=c["title"])
    d.text((16 * k, 46 * k), f"已种树 {state.trees_planted} 棵", font=_font(18 * k), fill=c["text"])
    d.text((16 * k, 74 * k), f"今日能量 {state.today_g} g", font=_font(18 * k), fill=c["text"])
    d.text((16 * k, 102 * k), f"可用能量 {state.energy_g} g", font=_font(18 * k), fill=c["text"])
    pct = min(1.0, state.energy_g / state.next_cost_g) if state.next_cost_g else 0.0
    d.text((16 * k, 140 * k), f"下一棵：{state.next_species}", font=_font(16 * k), fill=c["text"])
    d.rectangle([16 * k, 168 * k, 236 * k, 182 * k], outline=c["title"], width=k)
    d.rectangle([17 * k, 169 * k, (17 + 218 * pct) * k, 181 * k], fill=c["bar"])
    d.text((16 * k, 186 * k), f"{state.energy_g}/{state.next_cost_g} g", font=_font(14 * k), fill=c["text"])
    # the growing tree and its stage
    _grown_tree(d, 370 * k, (h - 40) * k, state.stage, state.stages, k, c)
    stage_w = d.textlength(state.stage_name, font=_font(16 * k))
    d.text((370 * k - stage_w / 2, (h - 32) * k), state.stage_name, font=_font(16 * k), fill=c["title"])
    # energy balls around the tree: ripe ones bright with their grams, ripening ones pale
    # with the hours left
    spots = [(290, 40), (330, 22), (410, 22), (450, 40), (280, 88), (460, 88)]
    balls = [(g, None) for g in state.ripe_g] + [(g, hrs) for g, hrs in state.ripening]
    for (bx, by), (grams, hours) in zip(spots, balls, strict=False):
        r = 17 * k
        x, y = bx * k, by * k
        ripe = hours is None
        d.ellipse(
            [x - r, y - r, x + r, y + r],
            fill=c["ripe"] if ripe else c["growing"],
            outline=c["ripe_edge"] if ripe else c["small"],
            width=k,
        )
        label = f"{grams}g"
        font = _font(12 * k)
        d.text(
            (x - d.textlength(label, font=font) / 2, y - 8 * k),
            label,
            font=font,
            fill="#1b5e20" if ripe else c["text"],
        )
        if not ripe:
            note = f"{hours}小时"
            small = _font(10 * k)
            d.text((x - d.textlength(note, font=small) / 2, y + r + k), note, font=small, fill=c["text"])
    # small icons for planted trees (up to 4)
    for i in range(min(state.trees_planted, 4)):
        _tree(d, (260 + i * 22) * k, (h - 44) * k, 0.3 * k, c["small"])
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
