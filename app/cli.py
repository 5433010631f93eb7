"""The ``quanzi`` command: serve, demo, migrate, seed, users, and each feature's commands
(``app.features``: a feature's ``cli.py``, e.g. ``quanzi leaderboards rebuild``).

A configuration the service must refuse (a weak secret in prod, a bad value) and a
schema it does not know end the command with one line on stderr and exit status 2,
not a traceback.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from app import features
from app import migrate as migrations
from app.config import ConfigError, get_settings
from app.db import resolve_database

cli = typer.Typer(help="Quanzi: social finance behind a bank's mobile app.", no_args_is_help=True)
users_cli = typer.Typer(help="Manage users.", no_args_is_help=True)
cli.add_typer(users_cli, name="users")
for _name, _group in features.commands():
    cli.add_typer(_group, name=_name)
console = Console()
EXIT_REFUSED = 2


class Refused(Exception):
    """The command will not run; the message is one line for the operator."""


def _check_schema(database_url: str) -> None:
    """Refuse to serve on a schema revision this release does not know."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from app.config import Settings

    async def check() -> None:
        engine = create_async_engine(Settings(database_url=database_url).sqlalchemy_url)
        try:
            async with engine.connect() as conn:
                state = await migrations.check_serveable(conn)
        finally:
            await engine.dispose()
        if not state.ready:
            console.print(f"[yellow]schema {state.describe()}; /readyz answers 503 until then")

    try:
        asyncio.run(check())
    except migrations.SchemaUnknown as exc:
        raise Refused(str(exc)) from None


def _serve(host: str, port: int, workers: int) -> None:
    # The embedded database (no QUANZI_DATABASE_URL) starts here, once; the workers get its URL.
    settings = resolve_database(get_settings())
    os.environ["QUANZI_DATABASE_URL"] = settings.database_url
    if workers > 1 and settings.redis_url.startswith("memory://"):
        raise Refused(
            "memory:// Redis lives in one process; set QUANZI_REDIS_URL=redis://… for several workers"
        )
    _check_schema(settings.database_url)
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
        ws_per_message_deflate=settings.ws_per_message_deflate,
        timeout_keep_alive=settings.http_keep_alive_s,
        # SIGTERM drains the node: uvicorn stops accepting, closes every WebSocket with 1012
        # (service restart: clients reconnect, through the proxy, to another node), lets
        # requests in flight finish for up to this long, then runs the app's shutdown.
        timeout_graceful_shutdown=settings.shutdown_grace_s,
        # The app reads X-Forwarded-* itself, only from the configured proxies (app/proxy.py).
        proxy_headers=False,
    )


@cli.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Run the service (uvicorn)."""
    _serve(host, port, workers)


@cli.command("migrate")
def migrate_cmd() -> None:
    """Bring the database schema up to date (Alembic), once however many nodes run it."""
    migrations.upgrade(get_settings())
    console.print(f"schema up to date ({migrations.head()})")


def _write_tokens(path: Path, toks: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{handle} {token}\n" for handle, token in toks.items()))


async def _seed(users: int) -> None:
    from app import seed as seeding
    from app.runtime import build_runtime

    settings = get_settings()
    if not settings.is_dev:
        raise Refused(
            "refusing to seed with QUANZI_ENV=prod: demo data creates admin, moderator and advisor "
            "accounts on well-known phone numbers"
        )
    rt = build_runtime(settings)
    try:
        if users:
            made = await seeding.bulk_users(rt, users)
            console.print(f"inserted {made} synthetic users")
        ctx = await seeding.run(rt)
        table = Table(title="Demo users")
        for column in ("handle", "phone", "name"):
            table.add_column(column)
        for handle, (phone, name, _roles) in seeding.DEMO_PEOPLE.items():
            table.add_row(handle, phone, name)
        console.print(table)
        toks = await seeding.demo_tokens(ctx)
        hours = settings.demo_token_ttl_s / 3600
        console.print(
            f"Bearer tokens (valid {hours:g} h, long enough to explore /docs without logging in again;"
            " the app's own logins get 15-minute tokens and refresh them).\n"
            "Paste one into Authorize in /docs:"
        )
        for handle, token in toks.items():
            console.print(f"  {handle:<10} {token}", soft_wrap=True)
        _write_tokens(Path(settings.data_dir) / "demo-tokens.txt", toks)
    finally:
        await rt.close()


@cli.command()
def seed(users: int = typer.Option(0, help="also insert this many synthetic users (bulk)")) -> None:
    """Load the demo data (idempotent; dev and test only); with --users N, N synthetic users too."""
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


def main() -> None:
    try:
        cli()
    except (ConfigError, Refused) as exc:
        print(f"quanzi: {exc}", file=sys.stderr)
        sys.exit(EXIT_REFUSED)
