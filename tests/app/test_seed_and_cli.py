"""The demo seed (every feature's part) and the quanzi command."""

from __future__ import annotations

from sqlalchemy import func, select
from typer.testing import CliRunner

from app import seed as seeding
from app.auth.models import User
from app.config import get_settings
from app.ledger import service as ledger
from social.friends import service as friends


async def test_the_demo_seed_runs_twice_without_duplicating(rt):
    first = await seeding.run(rt)
    async with rt.sessionmaker() as db:
        seeded = await db.scalar(select(func.count()).select_from(User))
    second = await seeding.run(rt)
    assert first.first_run and not second.first_run
    assert {h: u.id for h, u in first.users.items()} == {h: u.id for h, u in second.users.items()}
    async with rt.sessionmaker() as db:
        assert await db.scalar(select(func.count()).select_from(User)) == seeded >= len(seeding.DEMO_PEOPLE)
        lina = first.users["lina"].id
        assert len(await friends.friend_ids(db, lina)) >= 3
        assert await ledger.balance(db, ledger.wallet_account(lina)) > 0
        assert (await ledger.audit(db)).ok
    assert set(await seeding.demo_tokens(first)) == set(seeding.DEMO_PEOPLE)


async def test_bulk_users_inserts_users_with_wallets(rt):
    made = await seeding.bulk_users(rt, 1200, batch=500)
    assert made == 1200
    async with rt.sessionmaker() as db:
        assert await db.scalar(select(func.count()).select_from(User)) == 1200
        assert await db.scalar(select(func.count()).select_from(User).where(User.is_cardholder)) == 120
        assert (await ledger.audit(db)).ok


async def test_grant_role_from_the_command_line(settings, monkeypatch, users, client):
    import anyio

    from app.cli import cli

    for name, value in {
        "QUANZI_ENV": "test",
        "QUANZI_DATABASE_URL": settings.database_url,
        "QUANZI_REDIS_URL": "memory://",
        "QUANZI_DATA_DIR": str(settings.data_dir),
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, list(args))

    try:
        result = await anyio.to_thread.run_sync(invoke, "users", "grant-role", "+8613800138001", "moderator")
        assert result.exit_code == 1  # nobody has that number yet
        assert "no user" in result.output
        carol = await users.make("carol", phone="+8613800138001")
        result = await anyio.to_thread.run_sync(invoke, "users", "grant-role", "138 0013 8001", "moderator")
        assert result.exit_code == 0, result.output
        me = (await client.get("/v1/me", headers=carol.headers)).json()
        assert me["roles"] == ["moderator", "user"]
        result = await anyio.to_thread.run_sync(invoke, "users", "grant-role", "+8613800138001", "pope")
        assert result.exit_code == 1
    finally:
        get_settings.cache_clear()
