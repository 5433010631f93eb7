"""Demo data: a few named users who are friends, with wallets, chats and more.

The core seed creates the demo people with cards and money; every feature's
``seed(ctx)`` (see ``app.features``; friendships come from ``social/friends/seed.py``)
then adds its part, so that after ``quanzi demo`` a newcomer can log
in as Li Na and see friends, chats, a red packet, a forest and a feed at once.
Re-running is harmless: each part checks whether it already ran.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

import anyio
from rich.progress import Progress
from sqlalchemy import func, select

from app import features
from app.auth import service as auth
from app.auth import sessions
from app.auth.models import User
from app.db import end_read, transaction
from app.ids import new_id
from app.ledger import service as ledger
from app.runtime import Runtime

# handle → (phone, display name, roles)
DEMO_PEOPLE: dict[str, tuple[str, str, str]] = {
    "lina": ("+8613800138001", "李娜 Li Na", "user"),
    "wangwei": ("+8613800138002", "王伟 Wang Wei", "user"),
    "zhangmin": ("+8613800138003", "张敏 Zhang Min", "user"),
    "chenjie": ("+8613800138004", "陈杰 Chen Jie", "user"),
    "advisor": ("+8613800138005", "刘洋 Liu Yang (理财经理)", "advisor,user"),
    "moderator": ("+8613800138006", "赵磊 Zhao Lei (审核)", "moderator,user"),
    "admin": ("+8613800138007", "管理员 Admin", "admin,user"),
}


@dataclass
class SeedContext:
    rt: Runtime
    users: dict[str, User] = field(default_factory=dict)
    first_run: bool = True
    extras: dict[str, Any] = field(default_factory=dict)


async def seed_core(ctx: SeedContext) -> None:
    rt = ctx.rt
    async with rt.sessionmaker() as db:
        for handle, (phone, name, roles) in DEMO_PEOPLE.items():
            existing = await auth.get_user_by_phone(db, rt, phone)
            if existing is not None:
                ctx.first_run = False
            user = existing or await auth.get_or_create_user(
                db, rt, e164=phone, display_name=name, roles=roles
            )
            ctx.users[handle] = user
        await end_read(db)
        if not ctx.first_run:
            return
        for n, (handle, user) in enumerate(ctx.users.items()):
            if handle in ("moderator", "admin"):
                continue
            # The bank vouches for the demo cards (as ``POST /v1/bank/cards`` does).
            await auth.bank_link_card(
                db, rt, user_id=user.id, card_ref=f"demo-card-{handle}", last4=f"{6201 + n}"
            )
        async with transaction(db):
            now = rt.clock.now()
            for handle, user in ctx.users.items():
                if handle in ("moderator", "admin"):
                    continue
                entries = ledger.move(ledger.SETTLEMENT, ledger.wallet_account(user.id), 100_000)
                await ledger.post(
                    db, kind="topup", entries=entries, now=now, ref_id=user.id, memo="demo top-up"
                )


class SeedRefused(Exception):
    """Demo data is for dev and test: ``quanzi seed`` refuses in prod."""


async def run(rt: Runtime, echo: Any = print) -> SeedContext:
    """Seed the demo people and every feature's demo data. Raises SeedRefused in prod."""
    if not rt.settings.is_dev:
        raise SeedRefused(
            "refusing to seed demo data with QUANZI_ENV=prod: it creates admin, moderator and "
            "advisor accounts on well-known phone numbers"
        )
    ctx = SeedContext(rt=rt)
    await seed_core(ctx)
    for _name, seed in features.seeders():
        await seed(ctx)
    return ctx


async def demo_tokens(ctx: SeedContext) -> dict[str, str]:
    """An access token per demo person, each in a session of its own that lasts
    ``demo_token_ttl_s`` (a working day): long enough to explore /docs without logging in
    again; ``POST /v1/auth/logout`` ends it like any session."""
    rt = ctx.rt
    found = {}
    async with rt.sessionmaker() as db:
        for handle, user in ctx.users.items():
            pair = await sessions.start(db, rt, user_id=user.id, access_ttl_s=rt.settings.demo_token_ttl_s)
            found[handle] = pair.access_token
    return found


def _bulk_rows(
    first: int, n: int, *, key: str, now: Any, every_nth_cardholder: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Rows for synthetic users ``first … first+n-1`` (phones +86 170xxxxxxxx); CPU only."""
    mac = hmac.new(key.encode(), digestmod=hashlib.sha256)
    users, accounts = [], []
    for i in range(first, first + n):
        national = f"170{i:08d}"
        digest = mac.copy()
        digest.update(f"+86{national}".encode())
        uid = new_id("u_")
        users.append(
            (
                uid,
                digest.hexdigest(),
                f"+86 {national[:3]}****{national[-4:]}",
                f"用户{i:07d}",
                "user",
                bool(every_nth_cardholder) and i % every_nth_cardholder == 0,
                True,
                "zh",
                now,
            )
        )
        accounts.append((ledger.wallet_account(uid), "wallet", uid, 0, True, now))
    return users, accounts


_USER_COLUMNS = [
    "id",
    "phone_hash",
    "phone_masked",
    "display_name",
    "roles",
    "is_cardholder",
    "discoverable",
    "language",
    "created_at",
]
_ACCOUNT_COLUMNS = ["id", "kind", "owner_id", "balance_fen", "tracks_balance", "created_at"]


def bulk_phone(i: int) -> str:
    """The phone number of synthetic user ``i`` (see ``bulk_users``)."""
    return f"+86170{i:08d}"


async def bulk_users(
    rt: Runtime,
    count: int,
    *,
    cardholder_share: float = 0.1,
    batch: int = 20_000,
    first: int | None = None,
    progress: bool = True,
) -> int:
    """Insert ``count`` synthetic users (phones ``bulk_phone(i)``) with wallets, fast.

    User ``i`` is a cardholder when ``i`` is a multiple of ``1 / cardholder_share``.
    Numbering continues after the users already there unless ``first`` is given. Uses
    COPY (the next batch is built in a thread while the previous one is copied); shows a
    progress bar."""
    if first is None:
        async with rt.sessionmaker() as db:
            first = int(await db.scalar(select(func.count()).select_from(User)) or 0)
    now = rt.clock.now()
    key = rt.settings.phone_hmac_key
    nth = round(1 / cardholder_share) if cardholder_share else 0
    made = 0

    def build(at: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        return _bulk_rows(at, min(batch, first + count - at), key=key, now=now, every_nth_cardholder=nth)

    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("users", total=count)
        pending = await anyio.to_thread.run_sync(build, first) if count else None
        while pending is not None:
            users, accounts = pending
            at = first + made + len(users)
            async with anyio.create_task_group() as tg:
                nxt: list[Any] = [None]

                async def prepare(at: int = at, nxt: list[Any] = nxt) -> None:
                    if at < first + count:
                        nxt[0] = await anyio.to_thread.run_sync(build, at)

                tg.start_soon(prepare)
                await _bulk_insert(rt, users, accounts)
            made += len(users)
            bar.update(task, advance=len(users))
            pending = nxt[0]
    return made


async def _bulk_insert(rt: Runtime, users: list[tuple[Any, ...]], accounts: list[tuple[Any, ...]]) -> None:
    async with rt.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        async with driver.transaction():
            await driver.copy_records_to_table("users", records=users, columns=_USER_COLUMNS)
            await driver.copy_records_to_table("ledger_accounts", records=accounts, columns=_ACCOUNT_COLUMNS)
