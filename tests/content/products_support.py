"""A small catalogue made through the admin API, and members with a risk assessment."""

from __future__ import annotations

from typing import Any

import httpx

from app.auth import service as auth
from app.runtime import Runtime
from tests.support.people import Person

FUND_NOTICE = "基金有风险，投资需谨慎。过往业绩不代表未来表现。"
DEPOSIT_NOTICE = "本产品受《存款保险条例》保护，存款保险最高偿付限额为人民币50万元。"


def product(pid: str, *, kind: str = "fund", risk: str = "R3", name: str | None = None) -> dict[str, Any]:
    return {
        "id": pid,
        "kind": kind,
        "name": name or f"产品 {pid}",
        "issuer": "示例基金管理有限公司",
        "summary": "测试产品",
        "risk_level": risk,
        "compliance_text": DEPOSIT_NOTICE if kind == "deposit" else FUND_NOTICE,
        "link": f"https://bank.example/products/{pid}",
    }


async def catalogue(client: httpx.AsyncClient, admin: Person) -> None:
    """dep-r1 (deposit, R1), fund-r3 (R3), fund-r5 (R5)."""
    for body in (
        product("dep-r1", kind="deposit", risk="R1"),
        product("fund-r3"),
        product("fund-r5", risk="R5"),
    ):
        r = await client.post("/v1/admin/products", json=body, headers=admin.headers)
        assert r.status_code == 201, r.text


async def assess(rt: Runtime, who: Person, risk: str) -> None:
    """The bank's risk assessment of a customer (C1–C5): bank data, set as the bank sets it."""
    async with rt.sessionmaker() as db:
        await auth.set_bank_profile(db, user_id=who.id, risk_profile=risk)
