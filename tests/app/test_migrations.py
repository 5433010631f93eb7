"""Alembic: one head, and the migrated schema is the schema the models describe."""

from __future__ import annotations

import re

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CheckConstraint, text

from app import features
from app.db import metadata
from app.migrate import alembic_config
from social.chat import partitions


def test_the_migrations_have_one_head(settings):
    heads = ScriptDirectory.from_config(alembic_config(settings)).get_heads()
    assert len(heads) == 1, f"several heads, add a merge revision: {heads}"


async def test_the_migrated_database_matches_the_models(rt):
    features.import_models()

    def diff(connection):
        context = MigrationContext.configure(
            connection,
            # The messages table's month partitions are made by a job, not the models.
            opts={
                "compare_type": True,
                "include_name": lambda name, kind, _parent: (
                    not (kind == "table" and partitions.is_partition(str(name)))
                ),
            },
        )
        return compare_metadata(context, metadata)

    async with rt.engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert changes == [], changes


async def test_the_migrated_database_has_the_models_check_constraints(rt):
    # Alembic does not compare CHECK constraints (a StrEnum column's allowed values, a
    # balance that may not go negative): the migrations add them by hand.
    features.import_models()
    expected = {
        str(check.name): set(re.findall(r"'([^']*)'", str(check.sqltext)))
        for table in metadata.tables.values()
        for check in table.constraints
        if isinstance(check, CheckConstraint)
    }
    async with rt.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'c'")
        )
        found = {name: set(re.findall(r"'([^']*)'", definition)) for name, definition in rows}
    assert expected
    assert {name: found.get(name) for name in expected} == expected
