"""The term filter: an Aho–Corasick automaton over normalised text, plus regexes.

Pure: no database, no clock. ``build(config)`` compiles a category → {action, terms}
config once; ``TermFilter.scan(text)`` returns a ``Verdict``.

Evasions are normalised away before matching: NFKC folds full-width digits and letters
(``１３８`` → ``138``, ``ＱＱ`` → ``QQ``), case is folded, and every character that is not
a letter or a digit is dropped, so ``保 本-保*息`` and ``保本保息`` match alike. Terms are
normalised the same way when the automaton is built. Numbers and contact details
(phone, QQ, WeChat ids, 年化收益 N%) are regexes over the same compact text; links are
found in a looser form that keeps dots and slashes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import ahocorasick

ACTIONS = ("block", "review", "flag")  # most severe first
SEVERITY = {a: i for i, a in enumerate(ACTIONS)}

DEFAULT_CONFIG: dict[str, dict[str, Any]] = {
    # 资管新规: promising capital or returns is forbidden to anyone selling finance.
    "guaranteed_returns": {
        "action": "review",
        "terms": [
            "保本保息",
            "稳赚不赔",
            "保证收益",
            "保本保收益",
            "零风险高收益",
            "无风险高收益",
            "只赚不赔",
            "包赚",
            "刚性兑付",
            "保本高息",
            "稳赚",
            "躺赚",
        ],
    },
    "contact_diversion": {
        "action": "review",
        "terms": [
            "加我微信",
            "加微信",
            "加v",
            "私聊加",
            "加qq",
            "私下联系",
            "进群领取",
            "私信领取",
            "拉你进群",
        ],
    },
    "illegal_fundraising": {
        "action": "block",
        "terms": [
            "高息揽储",
            "民间集资",
            "集资入股",
            "资金盘",
            "拉人头",
            "发展下线",
            "原始股认购",
            "内部认购",
            "静态收益",
            "动态收益",
            "返本付息",
            "日息",
        ],
    },
    "profanity": {
        "action": "flag",
        "terms": ["傻逼", "操你", "他妈的", "狗日", "脑残", "滚你", "妈的", "尼玛", "nmsl"],
    },
}

# Regexes by category, matched over the compact form (letters and digits only).
PATTERNS: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    "guaranteed_returns": [
        (
            "年化收益N%",
            re.compile(r"年化(?:收益率?|回报率?|利率)?(?:高达|达到?|超过?|约|稳定|保证)?\d+"),
        ),
        ("月息N%", re.compile(r"(?:月|日)(?:息|收益|回报)(?:高达|达到?|超过?|约|稳定|保证)?\d+")),
    ],
    "contact_diversion": [
        ("phone", re.compile(r"(?<!\d)(?:86)?1[3-9]\d{9}(?!\d)")),
        ("qq", re.compile(r"(?:qq|扣扣|企鹅)(?:号|群)?(?:码)?(?:是|为)?\d{5,11}")),
        (
            "wechat",
            re.compile(
                r"(?:微信|威信|薇信|徽信|vx|wx|weixin|v信|加v|vv)(?:号)?(?:是|为|搜)?[a-z][a-z0-9]{5,19}"
            ),
        ),
    ],
}
LINK_CATEGORY = "contact_diversion"
_LINK = re.compile(
    r"(?:https?://)?((?:[a-z0-9-]+\.)+(?:com|cn|net|org|io|cc|top|xyz|me|info|vip|club|site|shop|app|co|ly|tk))(?![a-z0-9-])"
)


def normalise(text: str) -> str:
    """The compact form: NFKC, case-folded, letters and digits only."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def _loose(text: str) -> str:
    """NFKC, case-folded, with whitespace gone and ideographic full stops as dots (for links)."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("。", ".")
    return "".join(ch for ch in folded if not ch.isspace())


def _fold(text: str, keep: Any) -> tuple[str, list[int]]:
    """``text`` folded character by character (NFKC, case-folded) keeping what ``keep``
    accepts, and for each kept character the index of the original one it came from."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKC", ch).casefold():
            if keep(c):
                out.append(c)
                where.append(i)
    return "".join(out), where


@dataclass(frozen=True)
class Span:
    """Where a match lies in the original text: ``text[start:end]``."""

    start: int
    end: int
    category: str
    match: str


def merge(spans: Iterable[Span]) -> list[Span]:
    """Spans in order with overlaps joined (the first span's category names the union)."""
    out: list[Span] = []
    for s in sorted(spans, key=lambda s: (s.start, -s.end)):
        if out and s.start < out[-1].end:
            last = out[-1]
            if s.end > last.end:
                out[-1] = Span(last.start, s.end, last.category, last.match)
            continue
        out.append(s)
    return out


def segments(text: str, spans: Iterable[Span]) -> list[tuple[str, str | None]]:
    """``text`` cut into (piece, category or None) for display with the matches marked."""
    out: list[tuple[str, str | None]] = []
    at = 0
    for s in merge(spans):
        if s.start > at:
            out.append((text[at : s.start], None))
        out.append((text[s.start : s.end], s.category))
        at = s.end
    if at < len(text):
        out.append((text[at:], None))
    return out


@dataclass
class Verdict:
    action: str  # block | review | flag | allow
    hits: dict[str, list[str]] = field(default_factory=dict)  # category → what matched

    @property
    def categories(self) -> list[str]:
        return sorted(self.hits)


class TermFilter:
    def __init__(self, actions: Mapping[str, str], automaton: Any, allowed_domains: Iterable[str]) -> None:
        self.actions = dict(actions)
        self.automaton = automaton
        self.allowed_domains = tuple(d.lower().lstrip(".") for d in allowed_domains)

    def _allowed(self, host: str) -> bool:
        return any(host == d or host.endswith("." + d) for d in self.allowed_domains)

    def scan(self, text: str, *, max_hits: int = 20) -> Verdict:
        """Match every category's terms and patterns; the most severe action wins."""
        compact = normalise(text)
        hits: dict[str, list[str]] = {}

        def hit(category: str, what: str) -> None:
            found = hits.setdefault(category, [])
            if what not in found and len(found) < max_hits:
                found.append(what)

        if self.automaton is not None and compact:
            for _end, matches in self.automaton.iter(compact):
                for category, term in matches:
                    hit(category, term)
        for category, patterns in PATTERNS.items():
            if category not in self.actions:
                continue
            for name, pattern in patterns:
                if pattern.search(compact):
                    hit(category, name)
        if LINK_CATEGORY in self.actions:
            for m in _LINK.finditer(_loose(text)):
                host = m.group(1).removeprefix("www.")
                if not self._allowed(host):
                    hit(LINK_CATEGORY, f"link:{host}")
        if not hits:
            return Verdict("allow")
        action = min((self.actions[c] for c in hits), key=lambda a: SEVERITY[a])
        return Verdict(action, hits)

    def spans(self, text: str) -> list[Span]:
        """Where in ``text`` each term, pattern and link that ``scan`` finds lies (for
        highlighting), found the same way: over the folded text, mapped back."""
        compact, where = _fold(text, str.isalnum)
        found: list[Span] = []

        def add(category: str, start: int, end: int, what: str) -> None:
            found.append(Span(where[start], where[end - 1] + 1, category, what))

        if self.automaton is not None and compact:
            for end, matches in self.automaton.iter(compact):
                for category, term in matches:
                    add(category, end + 1 - len(normalise(term)), end + 1, term)
        for category, patterns in PATTERNS.items():
            if category not in self.actions:
                continue
            for name, pattern in patterns:
                for m in pattern.finditer(compact):
                    add(category, m.start(), m.end(), name)
        if LINK_CATEGORY in self.actions:
            loose, loose_where = _fold(text, lambda c: not c.isspace())
            loose = loose.replace("。", ".")
            for m in _LINK.finditer(loose):
                host = m.group(1).removeprefix("www.")
                if not self._allowed(host):
                    found.append(
                        Span(
                            loose_where[m.start()],
                            loose_where[m.end() - 1] + 1,
                            LINK_CATEGORY,
                            f"link:{host}",
                        )
                    )
        return sorted(found, key=lambda s: (s.start, s.end))


def build(config: Mapping[str, Mapping[str, Any]], allowed_domains: Iterable[str] = ()) -> TermFilter:
    """Compile a {category: {action, terms}} config into a filter."""
    automaton = ahocorasick.Automaton()
    values: dict[str, list[tuple[str, str]]] = {}
    actions: dict[str, str] = {}
    for category, spec in config.items():
        actions[category] = str(spec["action"])
        for term in spec.get("terms", []):
            key = normalise(term)
            if key:
                values.setdefault(key, []).append((category, term))
    for key, vals in values.items():
        automaton.add_word(key, vals)
    if values:
        automaton.make_automaton()
    return TermFilter(actions, automaton if values else None, allowed_domains)
