"""The ``quanzi`` command: serve, demo, migrate, seed, users."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from app import migrate as migrations
from app.config import get_settings
from app.db import resolve_database

cli = typer.Typer(help="Quanzi: social finance behind a bank's mobile app.", no_args_is_help=True)
users_cli = typer.Typer(help="Manage users.", no_args_is_help=True)
cli.add_typer(users_cli, name="users")
leaderboards_cli = typer.Typer(
    help="Leaderboards (Redis sorted sets, rebuilt from the database).", no_args_is_help=True
)
cli.add_typer(leaderboards_cli, name="leaderboards")
console = Console()


def _serve(host: str, port: int, workers: int) -> None:
    # The embedded database (no QUANZI_DATABASE_URL) starts here, once; the workers get its URL.
    settings = resolve_database(get_settings())
    os.environ["QUANZI_DATABASE_URL"] = settings.database_url
    if workers > 1 and settings.redis_url.startswith("memory://"):
        console.print(
            "[red]memory:// Redis lives in one process; set QUANZI_REDIS_URL=redis://… for several workers"
        )
        raise typer.Exit(2)
    if workers > 1:
        prom_dir = settings.data_dir / "prometheus"
        shutil.rmtree(prom_dir, ignore_errors=True)
        prom_dir.mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(prom_dir.resolve())
    uvicorn.run(
        "app.main:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        ws_max_size=settings.ws_transport_max_bytes,
        timeout_keep_alive=settings.http_keep_alive_s,
    )


@cli.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Run the service (uvicorn)."""
    _serve(host, port, workers)


@cli.command("migrate")
def migrate_cmd() -> None:
    """Bring the database schema up to date (Alembic)."""
    migrations.upgrade(get_settings())
    console.print("schema up to date")


def _write_tokens(path: Path, toks: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{handle} {token}\n" for handle, token in toks.items()))


async def _seed(users: int) -> None:
    from app import seed as seeding
    from app.runtime import build_runtime

    settings = get_settings()
    rt = build_runtime(settings)
    try:
        if users:
            made = await seeding.bulk_users(rt, users)
            console.print(f"inserted {made} synthetic users")
        ctx = await seeding.run(rt)
        if settings.is_dev:
            table = Table(title="Demo users")
            for column in ("handle", "phone", "name"):
                table.add_column(column)
            for handle, (phone, name, _roles) in seeding.DEMO_PEOPLE.items():
                table.add_row(handle, phone, name)
            console.print(table)
            toks = seeding.demo_tokens(ctx)
            console.print("Bearer tokens (valid 30 days; paste one into Authorize in /docs):")
            for handle, token in toks.items():
                console.print(f"  {handle:<10} {token}", soft_wrap=True)
            _write_tokens(Path(settings.data_dir) / "demo-tokens.txt", toks)
    finally:
        await rt.close()


@cli.command()
def seed(users: int = typer.Option(0, help="also insert this many synthetic users (bulk)")) -> None:
    """Load the demo data (idempotent); with --users N, N synthetic users too."""
    asyncio.run(_seed(users))


@cli.command()
def demo(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Migrate, seed the demo data and serve on the embedded defaults."""
    settings = get_settings()
    migrations.upgrade(settings)
    asyncio.run(_seed(0))
    base = f"http://{host}:{port}"
    console.print(f"\n[bold green]Quanzi is running:[/] open {base}/docs")
    console.print("Authorize in /docs with a token above (also in var/demo-tokens.txt), or log in:")
    console.print(f'  POST {base}/v1/auth/otp {{"phone": "+8613800138001"}} → dev_code; POST /v1/auth/token')
    _print_consoles(base)
    _serve(host, port, 1)


def _print_consoles(base: str) -> None:
    from app.seed import DEMO_PEOPLE

    console.print(
        f"\n[bold green]Staff consoles:[/] {base}/console/  (in dev the sign-in page shows the code)"
    )
    for handle in ("advisor", "moderator", "admin"):
        phone, name, roles = DEMO_PEOPLE[handle]
        console.print(f"  {phone}  {name}  ({roles})", markup=False)


@users_cli.command("grant-role")
def grant_role(phone: str, role: str) -> None:
    """Grant ROLE (user, advisor, moderator, admin, editor) to the user with PHONE."""
    from app.auth import service as auth
    from app.errors import QuanziError
    from app.runtime import build_runtime

    async def _grant() -> None:
        rt = build_runtime(get_settings())
        try:
            async with rt.sessionmaker() as db:
                user = await auth.grant_role(db, rt, phone=phone, role=role)
                console.print(f"{user.display_name}: roles {sorted(user.role_set)}")
        except QuanziError as exc:
            console.print(f"[red]{exc.message}")
            raise typer.Exit(1) from exc
        finally:
            await rt.close()

    asyncio.run(_grant())


@leaderboards_cli.command("rebuild")
def leaderboards_rebuild() -> None:
    """Recompute every board's current day, week and all-time scores from the database."""
    from app import features
    from app.runtime import build_runtime
    from games.leaderboards import boards

    async def _rebuild() -> dict[str, int]:
        features.import_models()
        for _ in features.modules("api"):
            pass  # boards register when their feature loads
        rt = build_runtime(get_settings())
        try:
            return await boards.rebuild_all(rt)
        finally:
            await rt.close()

    for name, count in asyncio.run(_rebuild()).items():
        console.print(f"{name}: {count} users")


def main() -> None:
    cli()
