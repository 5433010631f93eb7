"""Alembic: one head, and the migrated schema is the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from app import features
from app.db import metadata
from app.migrate import alembic_config


def test_the_migrations_have_one_head(settings):
    heads = ScriptDirectory.from_config(alembic_config(settings)).get_heads()
    assert len(heads) == 1, f"several heads, add a merge revision: {heads}"


async def test_the_migrated_database_matches_the_models(rt):
    features.import_models()

    def diff(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata)

    async with rt.engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert changes == [], changes
