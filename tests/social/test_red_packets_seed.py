"""The demo seed: Li Na finds a red packet to grab and a transfer to accept from Wang Wei."""

from __future__ import annotations

from sqlalchemy import select

from app import seed as seeding
from app.auth import tokens
from social.red_packets.models import RedPacket
from social.transfers.models import Transfer
from tests.social.money_support import audit_ok, idem, messages


class _Lina:
    def __init__(self, rt, user_id):
        self.headers = {"Authorization": f"Bearer {tokens.issue(rt.settings, user_id)}"}


async def test_lina_can_grab_and_accept_what_wang_wei_sent(client, rt):
    ctx = await seeding.run(rt)
    again = await seeding.run(rt)  # idempotent: nothing twice
    assert not again.first_run
    lina = _Lina(rt, ctx.users["lina"].id)
    async with rt.sessionmaker() as db:
        [packet] = (await db.execute(select(RedPacket))).scalars().all()
        [transfer] = (await db.execute(select(Transfer))).scalars().all()
    assert packet.conversation_id == transfer.conversation_id
    kinds = [m.kind for m in await messages(rt, packet.conversation_id)]
    assert "red_packet" in kinds and "transfer" in kinds
    r = await client.post(f"/v1/red-packets/{packet.id}/grab", headers=idem(lina))
    assert r.status_code == 200 and r.json()["amount_fen"] == 888
    r = await client.post(f"/v1/transfers/{transfer.id}/accept", headers=idem(lina))
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    assert await audit_ok(rt)
