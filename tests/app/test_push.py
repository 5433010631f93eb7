"""Offline push: a member without a live socket gets one push per message through the
sender (the log sender in test); a member online gets none; muted kinds and quiet hours
(the bank's zone, on the business clock) get none. Devices and settings over REST."""

from __future__ import annotations

import httpx
import pytest_asyncio

from app.config import Settings
from app.push.senders import ApnsSender, FcmSender, HmsSender, Push
from tests.support.people import error_code
from tests.support.servers import running_servers
from tests.support.ws import ws_connect


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(base_settings):
    async with running_servers(base_settings) as [srv]:
        yield srv


async def pushes(srv, who, user_id: str) -> list[dict]:
    async with httpx.AsyncClient(base_url=srv.url) as c:
        r = await c.get("/v1/dev/pushes", params={"user_id": user_id}, headers=who.headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


async def say(srv, who, conv: str, cid: str, text: str = "晚上吃饭吗") -> None:
    async with httpx.AsyncClient(base_url=srv.url) as c:
        r = await c.post(
            f"/v1/conversations/{conv}/messages",
            json={"cid": cid, "body": {"kind": "text", "text": text}},
            headers=who.headers,
        )
    assert r.status_code == 200, r.text


async def test_offline_members_get_one_push_unless_muted_or_quiet(server, client, users):
    alice, bob, carol = [await users.make(n) for n in ("alice", "bob", "carol")]
    for other in (bob, carol):
        await users.friends(alice, other)
    conv = (
        await client.post(
            "/v1/conversations",
            json={"member_ids": [bob.id, carol.id], "title": "饭局"},
            headers=alice.headers,
        )
    ).json()["id"]
    for who, platform in ((bob, "apns"), (carol, "fcm"), (alice, "hms")):
        r = await client.post(
            "/v1/me/devices", json={"platform": platform, "token": f"tok-{who.id}"}, headers=who.headers
        )
        assert r.status_code == 201 and r.json()["platform"] == platform

    async with ws_connect(server, bob):  # bob is online: he gets the frame, not a push
        await say(server, alice, conv, "m1")
        got = await pushes(server, alice, carol.id)
        assert len(got) == 1
        assert (
            got[0]["kind"] == "chat"
            and got[0]["body"] == "晚上吃饭吗"
            and got[0]["token"] == f"tok-{carol.id}"
        )
        assert got[0]["platform"] == "fcm" and got[0]["data"]["conversation_id"] == conv
        assert await pushes(server, alice, bob.id) == []
        assert await pushes(server, alice, alice.id) == []  # never to the sender

    r = await client.put("/v1/me/push-settings", json={"muted": ["chat"]}, headers=carol.headers)
    assert r.status_code == 200 and r.json() == {"muted": ["chat"], "quiet_hours": None}
    await say(server, alice, conv, "m2")
    assert len(await pushes(server, alice, carol.id)) == 1  # muted: nothing new

    quiet = {"muted": [], "quiet_hours": {"start": "22:00", "end": "07:00"}}
    assert (await client.put("/v1/me/push-settings", json=quiet, headers=carol.headers)).json() == quiet
    await say(server, alice, conv, "m3")  # 10:00 in the bank's zone: not quiet
    assert len(await pushes(server, alice, carol.id)) == 2
    async with httpx.AsyncClient(base_url=server.url) as c:
        r = await c.post("/v1/dev/clock", json={"advance_s": 13 * 3600}, headers=alice.headers)  # 23:00
        assert r.status_code == 200, r.text
    await say(server, alice, conv, "m4")
    assert len(await pushes(server, alice, carol.id)) == 2  # quiet hours: nothing new

    r = await client.delete(f"/v1/me/devices/tok-{carol.id}", headers=carol.headers)
    assert r.status_code == 204
    r = await client.delete(f"/v1/me/devices/tok-{carol.id}", headers=carol.headers)
    assert r.status_code == 404 and error_code(r) == "not_found"


async def test_device_and_settings_input_is_checked(client, users):
    alice = await users.make("alice")
    for bad in ({"platform": "sms", "token": "x"}, {"platform": "fcm", "token": ""}, {"platform": "fcm"}):
        assert (await client.post("/v1/me/devices", json=bad, headers=alice.headers)).status_code == 422
    for bad in ({"muted": ["everything"]}, {"quiet_hours": {"start": "25:00", "end": "07:00"}}):
        assert (await client.put("/v1/me/push-settings", json=bad, headers=alice.headers)).status_code == 422
    assert (await client.get("/v1/me/push-settings", headers=alice.headers)).json() == {
        "muted": [],
        "quiet_hours": None,
    }


def test_provider_adapters_build_their_requests():
    s = Settings(
        push_apns_topic="cn.bank.app",
        push_apns_jwt="jwt",
        push_fcm_project="bank-app",
        push_fcm_access_token="fcm-tok",
        push_hms_app_id="1234",
        push_hms_access_token="hms-tok",
    )
    p = Push("u_1", "apns", "dev-token", "chat", "新消息", "你好", {"conversation_id": "c_1", "seq": 3})
    apns = ApnsSender(s).request(p)
    assert apns.url == "https://api.push.apple.com/3/device/dev-token"
    assert apns.headers["apns-topic"] == "cn.bank.app" and apns.headers["authorization"] == "bearer jwt"
    assert apns.json["aps"]["alert"] == {"title": "新消息", "body": "你好"} and apns.json["seq"] == 3
    fcm = FcmSender(s).request(p)
    assert fcm.url == "https://fcm.googleapis.com/v1/projects/bank-app/messages:send"
    assert fcm.json["message"]["token"] == "dev-token" and fcm.json["message"]["data"]["seq"] == "3"
    hms = HmsSender(s).request(p)
    assert hms.url == "https://push-api.cloud.huawei.com/v1/1234/messages:send"
    assert hms.json["message"]["token"] == ["dev-token"] and hms.headers["authorization"] == "Bearer hms-tok"
