from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from games.quiz.service import question_for
from tests.games.helpers import event, spend
from tests.support.clock import BEFORE_BANK_MIDNIGHT, ONE_MINUTE
from tests.support.people import error_code

ROOT = Path(__file__).resolve().parents[2]

H = 3600


async def _farm(client, p):
    r = await client.get("/v1/farm", headers=p.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_meal_takes_4h_and_makes_an_egg(client, rt, users):
    li = await users.make("li")
    farm = await _farm(client, li)
    assert (farm["feed_g"], farm["bowl_g"], farm["state"], farm["eggs"]) == (180, 0, "hungry", 0)
    r = await client.post("/v1/farm/feed", headers=li.headers)
    assert r.status_code == 200 and r.json()["feed_g"] == 0
    await rt.advance_clock(2 * H)
    farm = await _farm(client, li)
    assert (farm["bowl_g"], farm["state"], farm["egg_progress_g"]) == (90, "eating", 90)
    assert farm["eating_until"]
    r = await client.post("/v1/farm/feed", headers=li.headers)
    assert r.status_code == 409  # still eating
    await rt.advance_clock(2 * H)
    farm = await _farm(client, li)
    assert (farm["bowl_g"], farm["state"], farm["eggs"], farm["eating_until"]) == (0, "hungry", 1, None)
    r = await client.post("/v1/farm/feed", headers=li.headers)
    assert r.status_code == 409 and error_code(r) == "insufficient_funds"


@pytest.mark.clock_start(BEFORE_BANK_MIDNIGHT)
async def test_spending_and_the_quiz_earn_feed(client, rt, users):
    li = await users.make("li")
    await spend(client, rt, [event(li.id, "transit", 200, at=rt.clock.now())])
    assert (await _farm(client, li))["feed_g"] == 180 + 18
    # 23:59 on 25 November in Shanghai (15:59 UTC): the bank's day, named by the test
    day = "2026-11-25"
    qid, text, choices, right, explanation = question_for(li.id, day)
    quiz = (await client.get("/v1/farm/quiz", headers=li.headers)).json()
    assert (quiz["day"], quiz["question_id"], quiz["question"], quiz["choices"]) == (
        day,
        qid,
        text,
        list(choices),
    )
    # not answered yet: neither my choice nor the answer nor the explanation is shown
    assert quiz["answered"] is False
    assert (quiz["choice"], quiz["correct"], quiz["answer"], quiz["explanation"]) == (None, None, None, None)
    r = await client.post("/v1/farm/quiz/answer", json={"choice": 9}, headers=li.headers)
    assert r.status_code == 422
    r = await client.post("/v1/farm/quiz/answer", json={"choice": right}, headers=li.headers)
    assert r.json() == {"correct": True, "reward_g": 90, "answer": right, "explanation": explanation}
    r = await client.post("/v1/farm/quiz/answer", json={"choice": right}, headers=li.headers)
    assert r.status_code == 409 and error_code(r) == "already_claimed"
    quiz = (await client.get("/v1/farm/quiz", headers=li.headers)).json()
    assert (quiz["day"], quiz["answered"], quiz["choice"], quiz["correct"]) == (day, True, right, True)
    assert (quiz["answer"], quiz["explanation"]) == (right, explanation)
    assert (await _farm(client, li))["feed_g"] == 180 + 18 + 90
    # one minute later it is 26 November in Shanghai (still the 25th in UTC): a new question
    await rt.advance_clock(ONE_MINUTE)
    next_day = "2026-11-26"
    quiz = (await client.get("/v1/farm/quiz", headers=li.headers)).json()
    assert (quiz["day"], quiz["question_id"], quiz["answered"]) == (
        next_day,
        question_for(li.id, next_day)[0],
        False,
    )
    wrong = (question_for(li.id, next_day)[3] + 1) % 2
    r = await client.post("/v1/farm/quiz/answer", json={"choice": wrong}, headers=li.headers)
    assert r.status_code == 200 and r.json()["correct"] is False and r.json()["reward_g"] == 0
    assert (await _farm(client, li))["feed_g"] == 180 + 18 + 90


def test_the_question_bank_is_large_and_deterministic():
    from games.quiz.questions import QUESTIONS

    assert len(QUESTIONS) >= 60
    days = [f"2026-11-{d:02d}" for d in range(1, 29)]
    assert len({question_for("u1", d)[0] for d in days}) > 10
    assert len({question_for(f"u{n}", "2026-11-25")[0] for n in range(40)}) > 10
    # The same user and day get the same question in every process (every worker, every
    # deploy), whatever the process's hash seed.
    here = [question_for(f"u{n}", d)[0] for n in range(3) for d in days]
    script = (
        "import json; from games.quiz.service import question_for; "
        f"print(json.dumps([question_for(f'u{{n}}', d)[0] for n in range(3) for d in {days!r}]))"
    )
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(out.stdout) == here, seed


async def test_a_visiting_chicken_eats_until_chased_and_the_feed_comes_back(client, rt, users):
    host = await users.make("host")
    guest = await users.make("guest")
    stranger = await users.make("stranger")
    await users.friends(host, guest)
    await client.post("/v1/farm/feed", headers=host.headers)
    await rt.advance_clock(1 * H)
    r = await client.post(f"/v1/farm/visit/{host.id}", headers=stranger.headers)
    assert r.status_code == 404
    r = await client.post(f"/v1/farm/visit/{host.id}", headers=guest.headers)
    assert r.status_code == 200, r.text
    await rt.advance_clock(1 * H)
    farm = await _farm(client, host)
    assert farm["thief"]["user_id"] == guest.id and farm["thief"]["eaten_g"] == 45 and farm["bowl_g"] == 45
    assert len(farm["visitors"]) == 1
    assert (await _farm(client, guest))["away"]["host_id"] == host.id
    r = await client.post("/v1/farm/chase", headers=host.headers)
    assert r.status_code == 200 and r.json()["returned_g"] == 45 and r.json()["feed_g"] == 45
    farm = await _farm(client, host)
    assert farm["thief"] is None and farm["bowl_g"] == 45
    assert (await client.post("/v1/farm/chase", headers=host.headers)).status_code == 409
    assert (await _farm(client, guest))["away"] is None


async def test_an_unchased_visitor_keeps_what_it_ate(client, rt, users):
    host = await users.make("host")
    guest = await users.make("guest")
    await users.friends(host, guest)
    await client.post("/v1/farm/feed", headers=host.headers)
    await client.post(f"/v1/farm/visit/{host.id}", headers=guest.headers)
    await rt.advance_clock(3 * H)  # the 2 h window ran out: both ate 90 g in 2 h? no: 180 g at 2×45 g/h
    guest_farm = await _farm(client, guest)
    host_farm = await _farm(client, host)
    assert host_farm["thief"] is None and host_farm["bowl_g"] == 0
    assert guest_farm["egg_progress_g"] == 90 and host_farm["egg_progress_g"] == 90
    assert (await client.post("/v1/farm/chase", headers=host.headers)).status_code == 409
    # the visit is settled by the next action at either farm
    r = await client.post("/v1/farm/feed", headers=host.headers)
    assert r.status_code == 409 and error_code(r) == "insufficient_funds"
    await client.post("/v1/farm/feed", headers=guest.headers)
    await rt.advance_clock(2 * H)
    assert (await _farm(client, guest))["eggs"] == 1


async def test_eggs_are_donated_to_a_project(client, rt, users):
    li = await users.make("li")
    await client.post("/v1/farm/feed", headers=li.headers)
    await rt.advance_clock(4 * H)
    projects = (await client.get("/v1/farm/projects", headers=li.headers)).json()["items"]
    r = await client.post(
        "/v1/farm/donate", json={"eggs": 2, "project_id": projects[0]["id"]}, headers=li.headers
    )
    assert r.status_code == 409 and error_code(r) == "insufficient_funds"
    r = await client.post("/v1/farm/donate", json={"eggs": 1, "project_id": "nope"}, headers=li.headers)
    assert r.status_code == 404
    r = await client.post(
        "/v1/farm/donate", json={"eggs": 1, "project_id": projects[0]["id"]}, headers=li.headers
    )
    assert r.status_code == 200 and r.json()["eggs_left"] == 0
    farm = await _farm(client, li)
    assert (farm["eggs"], farm["eggs_laid"], farm["eggs_donated"]) == (0, 1, 1)
    for bad in [{"eggs": 0, "project_id": "x"}, {"eggs": "1", "project_id": "x"}, {"project_id": "x"}]:
        assert (await client.post("/v1/farm/donate", json=bad, headers=li.headers)).status_code == 422


async def test_farm_endpoints_need_a_token_and_act_only_on_my_farm(client, rt, users):
    a = await users.make("a")
    b = await users.make("b")
    for method, path, body in [
        ("GET", "/v1/farm", None),
        ("POST", "/v1/farm/feed", None),
        ("GET", "/v1/farm/quiz", None),
        ("POST", "/v1/farm/quiz/answer", {"choice": 0}),
        ("POST", f"/v1/farm/visit/{a.id}", None),
        ("POST", "/v1/farm/chase", None),
        ("GET", "/v1/farm/projects", None),
        ("POST", "/v1/farm/donate", {"eggs": 1, "project_id": "flood_relief"}),
    ]:
        assert (await client.request(method, path, json=body)).status_code == 401, path
    await client.post("/v1/farm/feed", headers=a.headers)
    # b's actions touch b's farm only; b cannot visit a stranger
    assert (await client.post(f"/v1/farm/visit/{a.id}", headers=b.headers)).status_code == 404
    assert (await client.post("/v1/farm/chase", headers=b.headers)).status_code == 409
    assert (await _farm(client, a))["bowl_g"] == 180
    assert (await _farm(client, b))["bowl_g"] == 0
