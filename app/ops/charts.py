"""SVG charts drawn on the server (pygal), inlined in the dashboard's HTML.

No script and nothing fetched: pygal's tooltip script (which it would load from the
internet) is switched off and its inline config script removed, so a chart is plain SVG
whose text uses the page's CJK fonts.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence

import pygal
from pygal.style import Style

# pygal appends a legacy import hook (for its map plugins, unused here) to sys.meta_path; on
# Python 3.11 every import that reaches it warns (ImportWarning: no find_spec). Take it out.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]

FONTS = (
    '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif'
)
STYLE = Style(
    font_family=FONTS,
    label_font_family=FONTS,
    major_label_font_family=FONTS,
    value_font_family=FONTS,
    title_font_family=FONTS,
    legend_font_family=FONTS,
    tooltip_font_family=FONTS,
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1f2933",
    foreground_strong="#1f2933",
    foreground_subtle="#65748b",
    colors=("#c8102e", "#0b5cad", "#1b7f4b", "#b7791f", "#6b46c1", "#2c7a7b"),
    title_font_size=15,
    label_font_size=11,
    major_label_font_size=11,
    legend_font_size=12,
)
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S)


def _common(title: str, y_title: str) -> dict[str, object]:
    return {
        "style": STYLE,
        "title": title,
        "y_title": y_title,
        "js": [],
        "disable_xml_declaration": True,
        "explicit_size": False,
        "width": 760,
        "height": 320,
        "truncate_label": -1,
        "truncate_legend": -1,
        "y_labels_major_count": 5,
        "show_minor_y_labels": False,
        "show_dots": False,
        "dots_size": 2.5,
        "print_values": False,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 3,
        "margin": 12,
        "margin_bottom": 28,
        "no_data_text": "—",
    }


def _svg(chart: pygal.graph.graph.Graph) -> str:
    return _SCRIPT.sub("", chart.render(is_unicode=True))


def line(
    title: str,
    labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    y_title: str = "",
    label_every: int = 10,
    dots: bool = False,
) -> str:
    """A line chart over time: one line per series, x labels every ``label_every`` points;
    ``dots`` for sampled values with gaps (a lone sample is a dot, not an invisible line)."""
    chart = pygal.Line(
        **{**_common(title, y_title), "show_dots": dots},
        x_labels_major_every=label_every,
        show_minor_x_labels=False,
        fill=False,
        allow_interruptions=True,
    )
    chart.x_labels = list(labels)
    for name, values in series.items():
        chart.add(name, list(values))
    return _svg(chart)


def bars(title: str, values: dict[str, float | None], *, y_title: str = "") -> str:
    """A bar chart of one figure per category (e.g. p99 latency per route family)."""
    chart = pygal.Bar(**{**_common(title, y_title), "print_values": True}, x_label_rotation=30)
    chart.x_labels = list(values)
    chart.add(y_title or title, [None if v is None else round(v) for v in values.values()])
    return _svg(chart)
