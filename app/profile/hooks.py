"""Plug the profile into the platform: card spending becomes ``spend:*`` tag evidence
(under the ``card`` consent), and the platform's own parts of a member's data
(account, wallet, profile) join the export and the erasure."""

from __future__ import annotations

from typing import Any

from app import hooks
from app.auth import service as auth
from app.ledger import service as ledger
from app.profile import service as profile
from app.profile.registry import tag_value

SPEND_WHY = "you paid by card for {label} {count} times"


async def _spending(db: Any, rt: Any, events: list[hooks.Spending]) -> hooks.SpendingEffects:
    await profile.record(
        db,
        rt,
        [
            profile.Evidence(
                e.user_id, f"spend:{tag_value(e.category)}", "card", "paid", SPEND_WHY, e.occurred_at
            )
            for e in events
        ],
    )
    return hooks.SpendingEffects()


async def _account(db: Any, rt: Any, user_id: str) -> Any:
    return await auth.personal_data(db, user_id=user_id)


async def _erase_account(db: Any, rt: Any, user_id: str) -> None:
    await auth.erase_account(db, rt, user_id=user_id)


async def _wallet(db: Any, rt: Any, user_id: str) -> Any:
    account = ledger.wallet_account(user_id)
    found: list[ledger.Line] = []
    while page := await ledger.lines(
        db, account_id=account, limit=1000, before=found[-1].id if found else None
    ):
        found.extend(page)
    return {
        "balance_fen": await ledger.balance(db, account),
        "ledger_lines": [
            {
                "transaction_id": line.transaction_id,
                "kind": line.kind,
                "memo": line.memo,
                "amount_fen": line.amount,
                "balance_after_fen": line.balance_after,
                "created_at": line.created_at.isoformat(),
            }
            for line in reversed(found)  # oldest first
        ],
    }


async def _erase_wallet(db: Any, rt: Any, user_id: str) -> None:
    """Ledger lines stay (the bank's records, and counterparties' histories point at
    them); what is left in the wallet goes back to the bank, which pays it to the card."""
    account = ledger.wallet_account(user_id)
    left = await ledger.balance(db, account)
    if left > 0:
        await ledger.post(
            db,
            kind="erasure_payout",
            entries=ledger.move(account, ledger.SETTLEMENT, left),
            now=rt.clock.now(),
            ref_id=user_id,
            memo="account erased: balance returned to the bank",
        )


hooks.on_spending_recorded.append(_spending)
hooks.register_personal_data("account", export=_account, erase=_erase_account)
hooks.register_personal_data("wallet", export=_wallet, erase=_erase_wallet)
hooks.register_personal_data("profile", export=profile.personal_data, erase=profile.erase_personal_data)
