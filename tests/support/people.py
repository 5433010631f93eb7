"""Test users with tokens, made straight through the services (fast), used through the API."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx

from app.auth import service as auth
from app.auth import tokens
from app.auth.models import User
from app.db import transaction
from app.ledger import service as ledger
from app.runtime import Runtime

_numbers = itertools.count(1)


@dataclass
class Person:
    user: User
    token: str
    phone: str

    @property
    def id(self) -> str:
        return self.user.id

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class People:
    def __init__(self, rt: Runtime, client: httpx.AsyncClient) -> None:
        self.rt = rt
        self.client = client

    async def make(
        self,
        name: str = "user",
        *,
        cardholder: bool = True,
        balance_fen: int = 0,
        roles: str = "user",
        phone: str | None = None,
    ) -> Person:
        phone = phone or f"+86139{next(_numbers):08d}"
        async with self.rt.sessionmaker() as db:
            user = await auth.get_or_create_user(db, self.rt, e164=phone, display_name=name, roles=roles)
            if cardholder:
                _, user, _ = await auth.bank_link_card(
                    db, self.rt, user_id=user.id, card_ref=f"card-{phone[1:]}", last4="1234"
                )
            if balance_fen:
                async with transaction(db):
                    await ledger.post(
                        db,
                        kind="topup",
                        entries=ledger.move(ledger.SETTLEMENT, ledger.wallet_account(user.id), balance_fen),
                        now=self.rt.clock.now(),
                        ref_id=user.id,
                    )
        return Person(user=user, token=tokens.issue(self.rt.settings, user.id), phone=phone)

    async def make_cardholder(self, p: Person, *, card_ref: str | None = None) -> None:
        """Link a card to ``p`` as the bank does (``POST /v1/bank/cards``)."""
        body = {"user_id": p.id, "card_ref": card_ref or f"card-{p.phone[1:]}", "last4": "1234"}
        headers = {"Authorization": f"Bearer {self.rt.settings.service_token}"}
        r = await self.client.post("/v1/bank/cards", json=body, headers=headers)
        assert r.status_code in (200, 201), r.text

    async def friends(self, a: Person, b: Person) -> None:
        from social.friends import service as friends

        async with self.rt.sessionmaker() as db, transaction(db):
            await friends.make_friends(db, a.id, b.id, now=self.rt.clock.now())

    async def balance(self, p: Person) -> int:
        async with self.rt.sessionmaker() as db:
            return await ledger.balance(db, ledger.wallet_account(p.id))


def error_code(response: httpx.Response) -> Any:
    return response.json()["error"]["code"]
