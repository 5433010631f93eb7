"""Every staff action is audited: who, what, when, from where, and how it ended."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.console.models import StaffAction
from social.advisors import service as advisors
from tests.console.support import new_client, sign_in


async def _log(rt) -> list[StaffAction]:
    async with rt.sessionmaker() as db:
        return list((await db.execute(select(StaffAction).order_by(StaffAction.id))).scalars())


async def test_actions_views_and_refusals_are_audited(app, users, rt):
    adv = await users.make("刘洋", roles="advisor,user")
    other = await users.make("陈晨", roles="advisor,user")
    admin = await users.make("管理员", roles="admin,user")
    lina = await users.make("李娜")
    wang = await users.make("王伟")
    async with rt.sessionmaker() as db:
        await advisors.assign(db, rt, client_id=lina.id, advisor_id=adv.id)
        await advisors.assign(db, rt, client_id=wang.id, advisor_id=other.id)
    async with new_client(app) as browser:
        csrf = await sign_in(browser, adv)
        assert (
            await browser.get(f"/console/advisor/clients/{lina.id}", headers={"User-Agent": "Tablet/1"})
        ).status_code == 200
        r = await browser.post(
            f"/console/advisor/clients/{lina.id}/notes", data={"text": "偏好稳健", "csrf_token": csrf}
        )
        assert r.status_code == 303
        r = await browser.post(
            f"/console/advisor/clients/{wang.id}/notes", data={"text": "x", "csrf_token": csrf}
        )
        assert r.status_code == 404
        r = await browser.post(f"/console/advisor/clients/{lina.id}/notes", data={"text": "x"})
        assert r.status_code == 403
    entries = [(e.staff_id, e.action, e.target_kind, e.target_id, e.outcome) for e in await _log(rt)]
    assert entries == [
        (adv.id, "sign_in", None, None, "ok"),
        (adv.id, "advisors.client", "client", lina.id, "ok"),
        (adv.id, "advisors.add_note", "client", lina.id, "ok"),
        (adv.id, "advisors.add_note", "client", wang.id, "not_found"),
        (adv.id, "advisors.add_note", "client", lina.id, "forbidden"),
    ]
    view = (await _log(rt))[1]
    assert view.ip == "127.0.0.1" and view.user_agent == "Tablet/1" and view.session_id
    assert "note_id" in (await _log(rt))[2].data

    async with new_client(app) as browser:
        await sign_in(browser, admin)
        page = await browser.get("/console/ops/audit", params={"action": "advisors."})
        assert page.status_code == 200
        assert page.text.count('data-action="advisors.') == 4 and "not_found" in page.text
        page = await browser.get("/console/ops/audit", params={"who": admin.id})
        assert page.text.count("<tr data-action=") == 1  # the admin's own sign-in


async def test_the_staff_audit_log_refuses_updates(rt, users, app):
    adv = await users.make("刘洋", roles="advisor,user")
    async with new_client(app) as browser:
        await sign_in(browser, adv)
    async with rt.engine.connect() as conn:
        try:
            await conn.execute(text("UPDATE staff_actions SET outcome = 'ok'"))
            raise AssertionError("an audit entry was changed")
        except DBAPIError as exc:
            assert "append-only" in str(exc)
