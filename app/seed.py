"""Demo data: a few named users who are friends, with wallets, chats and more.

The core seed creates the demo people; every feature's ``seed(ctx)`` (see
``app.features``) then adds its part, so that after ``quanzi demo`` a newcomer can log
in as Li Na and see friends, chats, a red packet, a forest and a feed at once.
Re-running is harmless: each part checks whether it already ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, select
from tqdm import tqdm

from app import features
from app.auth import phones, tokens
from app.auth import service as auth
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
FRIENDS = [
    ("lina", "wangwei"),
    ("lina", "zhangmin"),
    ("lina", "chenjie"),
    ("wangwei", "zhangmin"),
    ("zhangmin", "chenjie"),
]


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
        from social.friends import service as friends

        for n, (handle, user) in enumerate(ctx.users.items()):
            if handle in ("moderator", "admin"):
                continue
            await auth.link_card(
                db, rt, user_id=user.id, card_token=f"demo-card-{handle}", last4=f"{6201 + n}"
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
            for a, b in FRIENDS:
                await friends.make_friends(db, ctx.users[a].id, ctx.users[b].id, now=now)


async def run(rt: Runtime, echo: Any = print) -> SeedContext:
    """Seed the demo people and every feature's demo data."""
    ctx = SeedContext(rt=rt)
    await seed_core(ctx)
    for name, seed in features.seeders():
        if name == "app.seed":
            continue
        await seed(ctx)
    return ctx


def demo_tokens(ctx: SeedContext) -> dict[str, str]:
    return {handle: tokens.issue(ctx.rt.settings, user.id) for handle, user in ctx.users.items()}


async def bulk_users(rt: Runtime, count: int, *, cardholder_share: float = 0.1, batch: int = 5000) -> int:
    """Insert ``count`` synthetic users (phones +86 170xxxxxxxx) with wallets, fast.

    Uses COPY on PostgreSQL and batched inserts on SQLite; shows a progress bar."""
    async with rt.sessionmaker() as db:
        start = int(await db.scalar(select(func.count()).select_from(User)) or 0)
    now = rt.clock.now()
    key = rt.settings.phone_hmac_key
    made = 0
    with tqdm(total=count, desc="users", unit="user") as bar:
        while made < count:
            n = min(batch, count - made)
            users, accounts = [], []
            for i in range(start + made, start + made + n):
                e164 = f"+86170{i:08d}"
                uid = new_id("u_")
                users.append(
                    {
                        "id": uid,
                        "phone_hash": phones.phone_hash(e164, key),
                        "phone_masked": phones.mask(e164),
                        "display_name": f"用户{i:07d}",
                        "avatar_url": None,
                        "roles": "user",
                        "is_cardholder": (i % round(1 / cardholder_share)) == 0
                        if cardholder_share
                        else False,
                        "discoverable": True,
                        "region": None,
                        "language": "zh",
                        "risk_profile": None,
                        "created_at": now,
                        "last_active_at": None,
                    }
                )
                accounts.append(
                    {
                        "id": ledger.wallet_account(uid),
                        "kind": "wallet",
                        "owner_id": uid,
                        "balance_fen": 0,
                        "tracks_balance": True,
                        "created_at": now,
                    }
                )
            await _bulk_insert(rt, users, accounts)
            made += n
            bar.update(n)
    return made


async def _bulk_insert(rt: Runtime, users: list[dict[str, Any]], accounts: list[dict[str, Any]]) -> None:
    from app.ledger.models import Account

    if rt.settings.is_sqlite:
        async with rt.sessionmaker() as db, transaction(db):
            await db.execute(insert(User), users)
            await db.execute(insert(Account), accounts)
        return
    async with rt.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        async with driver.transaction():
            await driver.copy_records_to_table(
                "users", records=[tuple(u.values()) for u in users], columns=list(users[0].keys())
            )
            await driver.copy_records_to_table(
                "ledger_accounts",
                records=[tuple(a.values()) for a in accounts],
                columns=list(accounts[0].keys()),
            )
