"""Business metrics at /metrics, and the dashboard's time series built from them."""

from __future__ import annotations

import math
import re
from datetime import timedelta

import pytest

from app import metrics
from app.ops import timeseries
from content.moderation.jobs import measure_queue
from tests.content.helpers import new_post
from tests.games.helpers import ripe_ball
from tests.social.money_support import idem, make_group


def _value(text: str, name: str, **labels: str) -> float:
    """A sample's value in Prometheus text (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(want) + r"\}" if want else r"(\{\})?") + r" ([0-9.e+-]+)"
    found = re.search(r"^" + pattern + r"$", text, re.M)
    return float(found.group(found.lastindex)) if found else 0.0


async def test_business_metrics_move_with_the_business(client, users, rt):
    before = (await client.get("/metrics")).text
    alice = await users.make("alice", balance_fen=10_000)
    bob = await users.make("bob", balance_fen=1_000)
    await users.friends(alice, bob)
    assert (await client.post("/v1/auth/otp", json={"phone": "+8613800001234"})).status_code == 202
    conv = await make_group(rt, [alice, bob])
    r = await client.post(
        f"/v1/conversations/{conv}/messages",
        json={"cid": "m1", "body": {"kind": "text", "text": "hi"}},
        headers=alice.headers,
    )
    assert r.status_code == 200
    r = await client.post(
        "/v1/red-packets",
        json={"conversation_id": conv, "total_fen": 200, "count": 2, "mode": "random"},
        headers=idem(alice),
    )
    assert r.status_code == 201, r.text
    assert (await client.post(f"/v1/red-packets/{r.json()['id']}/grab", headers=idem(bob))).status_code == 200
    t = await client.post(
        "/v1/transfers", json={"to_user_id": bob.id, "amount_fen": 100}, headers=idem(alice)
    )
    assert t.status_code == 201, t.text
    ball = await ripe_ball(client, rt, alice)
    assert (
        await client.post(f"/v1/forest/balls/{ball['id']}/collect", headers=alice.headers)
    ).status_code == 200
    t2 = await client.post(
        "/v1/transfers", json={"to_user_id": bob.id, "amount_fen": 100}, headers=idem(alice)
    )
    await rt.advance_clock(25 * 3600)
    from social.transfers.service import refund_expired

    assert await refund_expired(rt) == 2 and t2.status_code == 201
    await new_post(client, alice, text="保本保息")
    assert await measure_queue(rt) == 1

    after = (await client.get("/metrics")).text

    def moved(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert moved("quanzi_otp_sent_total") >= 1  # users.make logs in nobody; the POST sent one
    assert moved("quanzi_chat_messages_total", kind="text") == 1
    assert moved("quanzi_chat_messages_total", kind="red_packet") == 1
    assert moved("quanzi_red_packets_sent_total") == 1
    assert moved("quanzi_red_packet_grabs_total") == 1
    assert moved("quanzi_transfers_total", event="sent") == 2
    assert moved("quanzi_refunds_swept_total", kind="transfers") == 2
    assert moved("quanzi_energy_collected_grams_total") == ball["amount_g"]
    assert _value(after, "quanzi_moderation_queue_depth") == 1
    assert _value(after, "quanzi_http_family_seconds_count", family="red-packets") >= 2
    assert 'quanzi_http_family_seconds_bucket{family="conversations",le="0.005"}' in after


async def test_a_refused_use_case_counts_nothing(client, users):
    before = (await client.get("/metrics")).text
    alice = await users.make("alice", balance_fen=50)
    bob = await users.make("bob")
    await users.friends(alice, bob)
    r = await client.post(
        "/v1/transfers", json={"to_user_id": bob.id, "amount_fen": 100}, headers=idem(alice)
    )
    assert r.status_code == 409  # insufficient funds: rolled back
    after = (await client.get("/metrics")).text
    assert _value(after, "quanzi_transfers_total", event="sent") == _value(
        before, "quanzi_transfers_total", event="sent"
    )


@pytest.mark.parametrize(
    ("template", "family"),
    [
        ("/v1/red-packets/{packet_id}/grab", "red-packets"),
        ("/v1/me/advisor", "me"),
        ("/console/advisor/clients/{client_id}", "console"),
        ("/metrics", "ops"),
        ("/docs", "docs"),
        ("unmatched", "unmatched"),
        ("/", "root"),
    ],
)
def test_route_families(template, family):
    assert metrics.route_family(template) == family


def test_quantile_interpolates_like_prometheus():
    buckets = [(0.01, 50.0), (0.1, 90.0), (1.0, 100.0), (math.inf, 100.0)]
    assert timeseries.quantile(0.5, buckets) == pytest.approx(0.01)
    assert timeseries.quantile(0.9, buckets) == pytest.approx(0.1)
    assert timeseries.quantile(0.99, buckets) == pytest.approx(0.1 + 0.9 * 9 / 10)
    assert timeseries.quantile(0.99, [(0.1, 0.0), (math.inf, 5.0)]) == pytest.approx(
        0.1
    )  # all above the last bound
    assert timeseries.quantile(0.99, []) is None
    assert timeseries.quantile(0.99, [(0.1, 0.0), (math.inf, 0.0)]) is None


async def test_samples_add_what_changed_into_minute_and_ten_minute_buckets(client, users, rt):
    alice = await users.make("alice")
    bob = await users.make("bob")
    conv = await make_group(rt, [alice, bob])
    t0 = rt.clock.now().replace(second=5, microsecond=0)
    await timeseries.sample(rt, now=t0)  # this worker's baseline
    for n in range(3):
        r = await client.post(
            f"/v1/conversations/{conv}/messages",
            json={"cid": f"c{n}", "body": {"kind": "text", "text": "你好"}},
            headers=alice.headers,
        )
        assert r.status_code == 200
    await client.get("/v1/nope")  # a 404: traffic, not an error
    delta = await timeseries.sample(rt, now=t0 + timedelta(minutes=1))
    assert delta["c:messages"] == 3
    assert await timeseries.sample(rt, now=t0 + timedelta(minutes=1, seconds=10)) == {}  # nothing new

    series = await timeseries.read(rt, timeseries.HOUR, now=t0 + timedelta(minutes=1, seconds=30))
    assert len(series.rows) == 60 and series.counter("messages")[-1] == 3
    assert series.per_second("messages")[-1] == pytest.approx(0.05)
    assert series.error_rate()[-1] == 0.0
    assert series.p99("conversations") is not None
    assert series.worker_sum("ws_open")[-1] == 0
    day = await timeseries.read(rt, timeseries.DAY, now=t0 + timedelta(minutes=1))
    assert day.total("messages") >= 3 and len(day.rows) == 144
    # an hour later the minute buckets of then are out of the window
    later = await timeseries.read(rt, timeseries.HOUR, now=t0 + timedelta(hours=2))
    assert later.total("messages") == 0


async def test_round_trips_to_postgresql_are_counted(client, users):
    """What the benchmarks divide by the operations: what is sent. A GET /v1/me is one
    statement on its own (no BEGIN or COMMIT)."""
    me = await users.make("alice")
    assert (await client.get("/v1/me", headers=me.headers)).status_code == 200  # activity stamp
    trips = "quanzi_db_round_trips_total"
    before = (await client.get("/metrics")).text
    assert (await client.get("/v1/me", headers=me.headers)).status_code == 200
    after = (await client.get("/metrics")).text
    moved = {
        k: _value(after, trips, kind=k) - _value(before, trips, kind=k)
        for k in ("statement", "begin", "commit")
    }
    assert moved == {"statement": 1, "begin": 0, "commit": 0}
