"""The layering rules of STYLE.md, read from the source: a feature reaches another feature
through its service, never through its tables.

A feature is a package listed in ``app.features.FEATURES``; every module below it belongs
to it. A feature's module may import its own ``models`` only, and its SQL text may name
its own tables only (another feature's data comes from a function or SQL expression that
the owner's service exposes, e.g. ``friends.blocked_either_sql``, ``auth.profiles_sql``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import features

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "social", "games", "content")

# Known crossings in code other branches are rewriting (the money and platform work of
# issue 13). Each entry is (importing module, imported models module); an entry that no
# longer occurs fails the test, so the list only shrinks.
KNOWN_CROSSINGS = {
    # the wallet reads users and ledger rows (money branch)
    ("app.wallet.service", "app.ledger.models"),
}
KNOWN_SQL_CROSSINGS = {
    # the synthetic "users like you" population (demo seed, tests, insights_job bench):
    # a million members written straight into each table, one statement per table
    *(
        ("app.insights.synthetic", t)
        for t in ("users", "ledger_accounts", "ledger_transactions", "ledger_postings", "profile_consents")
    ),
    ("app.insights.synthetic", "spending_events"),
}


def feature_of(module: str) -> str | None:
    owners = [f for f in features.FEATURES if module == f or module.startswith(f + ".")]
    return max(owners, key=len, default=None)


def modules() -> Iterator[tuple[str, ast.Module]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported(tree: ast.Module, module: str) -> Iterator[str]:
    """Every module ``tree`` imports (``from a import b`` yields ``a`` and ``a.b``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*module.split(".")[: -node.level], *filter(None, [base])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def foreign_models(module: str, tree: ast.Module) -> set[str]:
    """The ``models`` modules of other features that ``module`` imports."""
    mine = feature_of(module)
    out = set()
    for name in imported(tree, module):
        if name.endswith(".models"):
            owner = feature_of(name)
            if owner is not None and owner != mine:
                out.add(name)
    return out


def table_owners() -> dict[str, str]:
    from sqlmodel import SQLModel

    features.import_models()
    owners = {}
    for mapper in SQLModel._sa_registry.mappers:  # type: ignore[attr-defined]
        owner = feature_of(mapper.class_.__module__)
        if owner is not None:
            owners[mapper.local_table.name] = owner
    return owners


_SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b")


def sql_texts(tree: ast.Module) -> Iterator[str]:
    """The string constants that read as SQL (docstrings left out)."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if _SQL.search(node.value):
                yield node.value


def test_features_import_no_other_features_models():
    found = set()
    for module, tree in modules():
        if feature_of(module) is None:
            continue  # the platform (app.db, app.deps, …) may know every table
        found |= {(module, models) for models in foreign_models(module, tree)}
    new = sorted(found - KNOWN_CROSSINGS)
    assert not new, f"read another feature through its service, not its models: {new}"
    gone = sorted(KNOWN_CROSSINGS - found)
    assert not gone, f"fixed: remove these from KNOWN_CROSSINGS: {gone}"


def test_feature_sql_names_only_its_own_tables():
    owners = table_owners()
    found = set()
    for module, tree in modules():
        mine = feature_of(module)
        if mine is None:
            continue
        for sql in sql_texts(tree):
            for table, owner in owners.items():
                if owner != mine and re.search(rf"\b(FROM|JOIN|UPDATE|INTO)\s+{table}\b", sql, re.I):
                    found.add((module, table))
    new = sorted(found - KNOWN_SQL_CROSSINGS)
    assert not new, f"SQL text names another feature's table: {new}"
    gone = sorted(KNOWN_SQL_CROSSINGS - found)
    assert not gone, f"fixed: remove these from KNOWN_SQL_CROSSINGS: {gone}"


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("social.chat.service", "from social.friends.models import Block", {"social.friends.models"}),
        ("social.chat.service", "from social.chat.models import Message", set()),
        ("content.feed.service", "from content.posts import models", {"content.posts.models"}),
        ("games.farm.service", "import app.auth.models", {"app.auth.models"}),
        ("social.chat.batcher", "from .models import Message", set()),
        ("social.chat.service", "from social.friends import service as friends", set()),
    ],
)
def test_the_import_rule_reads_every_import_form(module, source, expected):
    assert foreign_models(module, ast.parse(source)) == expected
