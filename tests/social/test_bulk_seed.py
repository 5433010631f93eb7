from __future__ import annotations

from app import seed as seeding
from app.auth import phones


async def test_bulk_users_are_matchable_cardholders(client, users, rt):
    made = await seeding.bulk_users(rt, 45, batch=20, first=0, progress=False)
    assert made == 45
    me = await users.make("me")
    wanted = [seeding.bulk_phone(i) for i in (0, 10, 11, 40, 44)]
    r = await client.post(
        "/v1/contacts/sync", json={"contacts": [{"phone": p} for p in wanted]}, headers=me.headers
    )
    assert r.status_code == 200
    names = sorted(m["display_name"] for m in r.json()["matches"])
    assert names == ["用户0000000", "用户0000010", "用户0000040"]  # every 10th is a cardholder
    async with rt.sessionmaker() as db:
        from sqlalchemy import select

        from app.auth.models import User

        u = (
            await db.execute(
                select(User).where(
                    User.phone_hash == phones.phone_hash(wanted[0], rt.settings.phone_hmac_key)
                )
            )
        ).scalar_one()
        assert u.phone_masked == phones.mask(wanted[0])
