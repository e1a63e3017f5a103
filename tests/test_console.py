"""The console: the real aiohttp application through aiohttp's pytest plugin."""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from yarl import URL

from dialer.console.app import make_app
from dialer.console.auth import digest
from dialer.console.context import ConsoleSettings
from dialer.dispatch.dispatcher import Dispatcher, RunParams
from dialer.store import Store
from tests.conftest import EN
from tests.helpers import START, FakePool, load_list, write_csv

NUMBER = re.compile(r"\+861380000\d{4}")  # any full number of the test list


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A campaign called through a fake pool: outcomes, answers, aggregates in place."""
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone", "name", "district"]] +
              [[f"138{i:08d}", f"resident {i}", ("Wuchang", "Hanyang")[i % 2]]
               for i in range(12)])
    path = tmp_path / "s.db"
    store = Store(path)
    load_list(store, listing, "c1", start_at=START)
    asyncio.run(Dispatcher(store, store.campaign("c1"), RunParams(lines=4), FakePool()).run())
    store.add_token("olga", "official", digest("official-secret"), None)
    store.add_token("otto", "operator", digest("operator-secret"), None)
    store.add_token("old", "operator", digest("expired-secret"), time.time() - 1)
    store.close()
    return path


OFFICIAL = {"Authorization": "Bearer official-secret"}
OPERATOR = {"Authorization": "Bearer operator-secret"}


@pytest.fixture
async def client(aiohttp_client: Any, db: Path) -> TestClient:
    return await aiohttp_client(make_app(ConsoleSettings(db=str(db))))


async def test_without_a_token_nothing_but_healthz(client: TestClient) -> None:
    assert (await client.get("/healthz")).status == 200
    for path in ("/api/campaigns", "/api/campaigns/c1", "/metrics", "/api/dnc"):
        r = await client.get(path)
        assert r.status == 401, path
        assert r.headers["WWW-Authenticate"] == "Bearer"
    page = await client.get("/", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"] == "/login"
    for bad in ("Bearer expired-secret", "Bearer nope", "Basic b3R0bw=="):
        assert (await client.get("/api/campaigns", headers={"Authorization": bad})).status == 401


async def test_roles(client: TestClient) -> None:
    for path in ("/api/campaigns/c1/followups", "/api/campaigns/c1/report", "/api/dnc",
                 "/api/audit", "/dnc", "/new", "/audit"):
        assert (await client.get(path, headers=OPERATOR)).status == 403, path
        assert (await client.get(path, headers=OFFICIAL)).status == 200, path


async def test_campaign_list_and_snapshot(client: TestClient) -> None:
    r = await client.get("/api/campaigns", headers=OPERATOR)
    assert await r.json() == [{"name": "c1", "state": "finished"}]
    snap = await (await client.get("/api/campaigns/c1", headers=OPERATOR)).json()
    assert snap["state"] == "finished" and snap["attempts"] == 18 and snap["completed"] == 12
    assert snap["outcomes"] == {"completed": 12, "partial": 0, "refused": 0, "opted_out": 0,
                                "voicemail": 0, "busy": 6, "no_answer": 0,
                                "invalid_number": 0, "dropped": 0}
    assert snap["line_cap"] == 100 and snap["cps"] == 20.0 and snap["lines_busy"] == 0
    assert snap["progress"]["done"] == 12 and snap["dispositions"]["uncontacted"] == 6
    assert [p["attempts"] for p in snap["pipeline"]] == [1, 2]
    assert (await client.get("/api/campaigns/nope", headers=OPERATOR)).status == 404
    assert (await client.get("/api/campaigns/bad%20name", headers=OPERATOR)).status == 404


async def test_control_routes_and_their_audit(client: TestClient, db: Path) -> None:
    for action, state in (("pause", "paused"), ("resume", "active")):
        r = await client.post(f"/api/campaigns/c1/{action}", headers=OPERATOR)
        assert r.status == 200 and (await r.json())["control"] == state
    r = await client.post("/api/campaigns/c1/stop", headers=OPERATOR, json={})
    assert r.status == 400 and "confirm" in (await r.json())["error"]
    r = await client.patch("/api/campaigns/c1", headers=OPERATOR, json={"line_cap": 40,
                                                                         "cps": 2.5})
    assert await r.json() == {"name": "c1", "line_cap": 40, "cps": 2.5}
    for bad in ({"line_cap": 0}, {"cps": "fast"}, {"line_cap": 1.5}, {}):
        assert (await client.patch("/api/campaigns/c1", headers=OPERATOR,
                                   json=bad)).status == 400, bad
    r = await client.post("/api/campaigns/c1/stop", headers=OPERATOR, json={"confirm": True})
    assert (await r.json())["control"] == "stopped"
    assert (await client.post("/api/campaigns/c1/resume", headers=OPERATOR)).status == 409
    store = Store(db, create=False)
    assert store.control("c1").state == "stopped" and store.control("c1").line_cap == 40
    actions = [(r.who, r.action) for r in store.audit_log()][::-1]
    assert actions[-4:] == [("otto", "pause"), ("otto", "resume"), ("otto", "set"),
                            ("otto", "stop")]


async def test_numbers_are_masked_unless_an_official_reveals_them(client: TestClient,
                                                                   db: Path) -> None:
    for path in ("/api/campaigns", "/api/campaigns/c1", "/api/campaigns/c1/districts",
                 "/api/campaigns/c1/followups", "/api/campaigns/c1/report?format=json",
                 "/api/campaigns/c1/report", "/api/dnc", "/metrics", "/campaigns/c1",
                 "/campaigns/c1/results"):
        text = await (await client.get(path, headers=OFFICIAL)).text()
        assert not NUMBER.search(text), path
    r = await client.get("/api/campaigns/c1/report?format=csv&reveal=1", headers=OFFICIAL)
    assert NUMBER.search(await r.text()) and "revealed" in r.headers["Content-Disposition"]
    quietly = await client.get("/api/campaigns/c1/report?reveal=1", headers=OPERATOR)
    assert quietly.status == 403
    audit = Store(db, create=False).audit_log()
    latest = audit[0]
    assert (latest.who, latest.action, latest.detail) == ("olga", "reveal",
                                                                   "report.csv")


async def test_the_console_serves_the_floip_package_to_officials(client: TestClient,
                                                                  db: Path) -> None:
    """The descriptor points at its rows' URL (no inline data, as FLOIP asks); rows carry
    pseudonyms unless an official reveals numbers; operators get neither."""
    assert (await client.get("/api/campaigns/c1/floip", headers=OPERATOR)).status == 403
    desc = await (await client.get("/api/campaigns/c1/floip", headers=OFFICIAL)).json()
    (resource,) = desc["resources"]
    assert desc["profile"] == "flow-results-package" and "data" not in resource
    url = resource["path"]
    assert url.endswith("/api/campaigns/c1/floip/responses")
    r = await client.get(URL(url).path_qs, headers=OFFICIAL)
    rows = await r.json()
    assert rows and all(len(row) == 7 for row in rows)
    assert not NUMBER.search(json.dumps(rows))
    revealed = await (await client.get("/api/campaigns/c1/floip?reveal=1",
                                       headers=OFFICIAL)).json()
    assert revealed["resources"][0]["path"].endswith("responses?reveal=1")
    r = await client.get("/api/campaigns/c1/floip/responses?reveal=1", headers=OFFICIAL)
    assert NUMBER.search(await r.text())
    latest = Store(db, create=False).audit_log()[0]
    assert (latest.who, latest.action, latest.detail) == ("olga", "reveal", "floip responses")
    assert (await client.get("/api/campaigns/nope/floip", headers=OFFICIAL)).status == 404


async def test_an_official_creates_a_campaign_and_sees_rejected_rows(client: TestClient,
                                                                      tmp_path: Path) -> None:
    form = FormData()
    form.add_field("name", "c2")
    form.add_field("region", "CN")
    form.add_field("survey", EN.read_bytes(), filename="s.yaml")
    form.add_field("list", b"phone,district\n13900000001,A\nnonsense,B\n13900000002,A\n",
                   filename="l.csv")
    r = await client.post("/api/campaigns", headers=OFFICIAL, data=form)
    body = await r.json()
    assert r.status == 200, body
    assert body["loaded"] == 2 and body["rejected"][0]["row"] == 3
    bad = FormData()
    bad.add_field("name", "c3")
    bad.add_field("list", b"number\n1\n", filename="l.csv")
    r = await client.post("/api/campaigns", headers=OFFICIAL, data=bad)
    assert r.status == 400 and "new: give its survey" in (await r.json())["error"]


async def test_the_do_not_call_list_from_the_console(client: TestClient) -> None:
    form = FormData()
    form.add_field("numbers", "+8613800000003\nnot a number\n")
    r = await client.post("/api/dnc", headers=OFFICIAL, data=form)
    body = await r.json()
    assert body["added"] == 1 and body["rejected"][0]["line"] == 2
    listed = await (await client.get("/api/dnc", headers=OFFICIAL)).json()
    assert listed[0]["number"] == "+86138****0003"
    r = await client.delete("/api/dnc", headers=OFFICIAL, json={"numbers": ["+8613800000003"]})
    assert await r.json() == {"removed": 1}


async def _login(client: TestClient, token: str) -> str:
    r = await client.post("/login", data={"token": token}, allow_redirects=False)
    assert r.status == 303 and "HttpOnly" in r.headers["Set-Cookie"]
    assert "SameSite=Strict" in r.headers["Set-Cookie"]
    page = await (await client.get("/campaigns/c1")).text()
    match = re.search(r'name="csrf" content="([^"]+)"', page)
    assert match, page[:300]
    return match.group(1)


async def test_a_session_needs_its_csrf_token_a_bearer_does_not(client: TestClient) -> None:
    bad = await client.post("/login", data={"token": "wrong"})
    assert bad.status == 401 and "not valid" in await bad.text()
    csrf = await _login(client, "operator-secret")
    refused = await client.post("/api/campaigns/c1/pause")
    assert refused.status == 403 and "CSRF" in await refused.text()
    forged = await client.post("/api/campaigns/c1/pause", headers={"X-CSRF-Token": "x" * 32})
    assert forged.status == 403
    ok = await client.post("/api/campaigns/c1/pause", headers={"X-CSRF-Token": csrf})
    assert ok.status == 200
    client.session.cookie_jar.clear()
    assert (await client.post("/api/campaigns/c1/resume", headers=OPERATOR)).status == 200


async def test_live_updates_follow_the_store(client: TestClient, db: Path) -> None:
    """The page's event stream shows a change made elsewhere within about 2 s."""
    r = await client.get("/api/campaigns/c1/events", headers=OPERATOR)
    assert r.headers["Content-Type"].startswith("text/event-stream")
    first = await _event(r)
    assert first["state"] == "finished" and first["line_cap"] == 100
    Store(db, create=False).set_control("c1", line_cap=7)
    t0 = time.monotonic()
    while (snap := await _event(r))["line_cap"] != 7:
        assert time.monotonic() - t0 < 3
    assert snap["line_cap"] == 7 and time.monotonic() - t0 < 2.5
    r.close()


async def _event(r: Any) -> dict[str, Any]:
    data = ""
    while True:
        line = (await asyncio.wait_for(r.content.readline(), 5)).decode().rstrip("\r\n")
        if line.startswith("data:"):
            data += line[5:].strip()
        elif line == "" and data:
            return dict(json.loads(data))


async def test_metrics_follow_prometheus_conventions(client: TestClient) -> None:
    text = await (await client.get("/metrics", headers=OPERATOR)).text()
    assert 'healthdial_calls_total{campaign="c1",outcome="completed"} 12.0' in text
    assert 'healthdial_lines_busy{campaign="c1"} 0.0' in text
    assert "# TYPE healthdial_turn_latency_seconds histogram" in text
    assert 'healthdial_campaign_state{campaign="c1",state="finished"} 1.0' in text


async def test_pages_render_for_their_roles(client: TestClient) -> None:
    await _login(client, "official-secret")
    for path, needle in (("/", "c1"), ("/campaigns/c1", "Recognition health"),
                         ("/campaigns/c1/results", "Follow-up list"), ("/dnc", "Add numbers"),
                         ("/new", "Call list"), ("/audit", "login")):
        r = await client.get(path)
        assert r.status == 200 and needle in await r.text(), path
        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    js = await client.get("/static/console.js")
    assert js.status == 200 and "EventSource" in await js.text()


def test_recognition_health_counts_decisions_rejections_and_latency(tmp_path: Path) -> None:
    from dialer.console.snapshot import recognition
    from dialer.wire import CallOutcome

    store = Store(tmp_path / "s.db")
    write_csv(tmp_path / "l.csv", [["phone"], ["13800000001"], ["13800000002"]])
    load_list(store, tmp_path / "l.csv", "r", start_at=START)
    turns = (("fever", "reprompted", True, 0.12), ("fever", "accepted", False, 0.08),
             ("cough", "keypad", False, None), ("cough", "keyed", False, 0.4))
    store.apply("r", CallOutcome(id="r:1:1", contact_id=1, attempt=1, started=START, duration=60,
                                 outcome="completed", risk="green", answers=(), cpu=0.0,
                                 latency_s=(), reason=None, turns=turns),
                store.campaign("r").settings)
    rows = {r["question"]: r for r in recognition(store, "r", START + 60)}
    assert rows["fever"]["turns"] == 2 and rows["fever"]["reprompted"] == 0.5
    assert rows["fever"]["rejected"] == 0.5 and rows["fever"]["p50_ms"] == 100.0
    assert rows["fever"]["p99_ms"] == 150.0
    assert rows["cough"]["keypad"] == 0.5 and rows["cough"]["p99_ms"] == 500.0


async def test_recorded_calls_are_for_officials_and_every_listening_is_audited(
        client: TestClient, db: Path) -> None:
    from dialer.recordings.files import save
    from tests.test_recordings import _recorded_result

    store = Store(db, create=False)
    r = replace(_recorded_result(3, 2), id="c1:3:2")
    save(store, "c1", r, store.campaign("c1").settings)
    rid = store.recordings_of("c1")[0].id
    for path in ("/api/campaigns/c1/recordings", f"/api/recordings/{rid}",
                 f"/api/recordings/{rid}/audio", f"/recordings/{rid}", "/campaigns/c1/calls"):
        assert (await client.get(path, headers=OPERATOR)).status == 403, path
    listed = await (await client.get("/api/campaigns/c1/recordings?question=consent",
                                      headers=OFFICIAL)).json()
    assert [x["phone"] for x in listed] == ["+86138****0002"]
    log = await (await client.get(f"/api/recordings/{rid}", headers=OFFICIAL)).json()
    assert log["log"]["turns"][0]["decision"] == "confirming"
    audio = await client.get(f"/api/recordings/{rid}/audio", headers=OFFICIAL)
    assert audio.headers["Content-Type"] == "audio/flac" and (await audio.read())[:4] == b"fLaC"
    worst = await (await client.get("/api/campaigns/c1/worst?question=consent",
                                     headers=OFFICIAL)).json()
    assert worst[0]["recording"] == rid and worst[0]["turn"] == 2  # the read-back not heard
    assert (await client.get("/api/recordings/999/audio", headers=OFFICIAL)).status == 404
    latest = Store(db, create=False).audit_log()[0]
    assert (latest.who, latest.action, latest.detail) == ("olga", "listen", "c1:3:2")
    await asyncio.to_thread(Path(store.recording(rid).audio).unlink)  # gone, still listed
    for path in (f"/api/recordings/{rid}", f"/api/recordings/{rid}/audio"):
        gone = await client.get(path, headers=OFFICIAL)
        assert gone.status == 404 and "gone from disk" in (await gone.json())["error"]
    bare = await client.get("/api/campaigns")  # no token: the API's JSON error
    assert bare.status == 401 and "Bearer" in (await bare.json())["error"]
    denied = await client.get(f"/api/recordings/{rid}", headers=OPERATOR)
    assert denied.status == 403 and "official" in (await denied.json())["error"]
