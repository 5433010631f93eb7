from __future__ import annotations


async def test_health_ready_metrics(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["checks"] == {"database": "ok", "schema": "ok", "redis": "ok"}
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert "quanzi_http_requests_total" in r.text


async def test_unknown_path_and_bad_json_use_the_error_envelope(client, users):
    alice = await users.make("alice")
    r = await client.get("/v1/nope")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    r = await client.post(
        "/v1/wallet/topup",
        content=b"{not json",
        headers={**alice.headers, "Idempotency-Key": "k", "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "validation_error"
    r = await client.post("/v1/wallet/topup", json=[1, 2], headers={**alice.headers, "Idempotency-Key": "k"})
    assert r.status_code == 422


async def test_dev_clock_moves_business_time_forward_only(client, users):
    alice = await users.make("alice")
    before = (await client.get("/v1/dev/clock")).json()
    r = await client.post("/v1/dev/clock", json={"advance_s": 3600}, headers=alice.headers)
    assert r.status_code == 200
    assert r.json()["offset_s"] == before["offset_s"] + 3600
    r = await client.post("/v1/dev/clock", json={"advance_s": -5}, headers=alice.headers)
    assert r.status_code == 422


async def test_request_id_is_echoed(client):
    r = await client.get("/healthz", headers={"X-Request-ID": "abc123"})
    assert r.headers["x-request-id"] == "abc123"


async def test_an_exhausted_connection_pool_is_503_not_500(client, rt, users, monkeypatch):
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    alice = await users.make("alice")

    def exhausted(*args, **kwargs):
        raise PoolTimeout("QueuePool limit reached")

    monkeypatch.setattr(rt, "sessionmaker", exhausted)
    r = await client.get("/v1/wallet", headers=alice.headers)
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "unavailable"
    assert r.headers["Retry-After"] == "1"


async def test_a_database_that_refuses_connections_is_503_not_500(client, rt, users, monkeypatch):
    from sqlalchemy.exc import DBAPIError

    class TooManyClients(Exception):
        sqlstate = "53300"  # what asyncpg raises when max_connections is reached

    alice = await users.make("alice")

    def refused(*args, **kwargs):
        raise DBAPIError("connect", {}, TooManyClients("sorry, too many clients already"))

    monkeypatch.setattr(rt, "sessionmaker", refused)
    r = await client.get("/v1/wallet", headers=alice.headers)
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "unavailable"
