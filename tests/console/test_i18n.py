"""Every Chinese phrase the consoles show has its English text."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from app import features
from app.console import i18n

ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u3400-\u9fff]")
QUOTED = re.compile(r'"([^"\n{}]*[\u3400-\u9fff][^"\n]*)"')


def _console_modules() -> list[Path]:
    extra = [ROOT / "app" / "console" / name for name in ("api.py", "web.py")]
    return [Path(str(m.__file__)) for _, m in features.modules("console")] + extra


def _template_phrases() -> set[str]:
    found = set()
    for folder in {p.parent / "templates" for p in _console_modules()}:
        for page in folder.glob("*.html"):
            for block in re.findall(r"\{\{.*?\}\}|\{%.*?%\}", page.read_text(), re.S):
                found.update(QUOTED.findall(block))
    return found


def _module_phrases() -> set[str]:
    found = set()
    for path in _console_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_" and node.args:
                first = node.args[0]
                if (
                    isinstance(first, ast.Constant)
                    and isinstance(first.value, str)
                    and CJK.search(first.value)
                ):
                    found.add(first.value)
            if isinstance(node, ast.Dict) and not (
                isinstance(node, ast.Dict)
                and any(isinstance(k, ast.Constant) and CJK.search(str(k.value)) for k in node.keys)
            ):
                for v in node.values:
                    if isinstance(v, ast.Constant) and isinstance(v.value, str) and CJK.search(v.value):
                        found.add(v.value)
    return found


def test_every_chinese_phrase_has_english():
    phrases = _template_phrases() | _module_phrases()
    assert len(phrases) > 100
    missing = sorted(p for p in phrases if p not in i18n.EN)
    assert missing == [], missing


def test_placeholders_match():
    for zh, en in i18n.EN.items():
        assert set(re.findall(r"\{(\w+)\}", zh)) == set(re.findall(r"\{(\w+)\}", en)), zh


def test_language_choice():
    assert i18n.pick(None, None, None) == "zh"
    assert i18n.pick("en", "zh", "zh-CN") == "en"
    assert i18n.pick(None, "en", "zh-CN") == "en"
    assert i18n.pick("fr", None, "fr-FR,en;q=0.8,zh;q=0.5") == "en"
    assert i18n.pick(None, None, "zh-TW,zh;q=0.9,en;q=0.8") == "zh"
    assert i18n.pick(None, None, "de,q=x") == "zh"
