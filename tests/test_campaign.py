"""Campaigns: call lists, the store, the dispatcher's rules, and crash-resume."""

from __future__ import annotations

import asyncio
import csv
import heapq
import io
import itertools
import json
import random
import shutil
import signal
import time
from pathlib import Path

import pytest

from dialer.campaign.reports import report, wilson
from dialer.dispatch.dispatcher import Dispatcher, RunParams
from dialer.policy.contacts import mask
from dialer.policy.hours import is_open
from dialer.policy.settings import CampaignSettings
from dialer.store import Store
from dialer.wire import CallOutcome
from survey_scripts.errors import UsageError
from tests.conftest import EN
from tests.helpers import START, FakePool, campaign_store, healthdial, load_list, write_csv


def test_load_10000_rows_with_bad_rows_of_many_kinds(tmp_path: Path) -> None:
    rng = random.Random(7)
    rows: list[list[str]] = [["Phone", "Name", "District", "Timezone"]]
    bad: dict[int, str] = {}
    good: set[str] = set()
    kinds = [("", "empty"), ("hello", "not a phone number"), ("12345", "digits"),
             ("+86 138 0013 80000000", "digits"), ("+999 1234567", "not a phone number"),
             ("13800138000", "time zone")]
    for i in range(10_000):
        row_no = i + 2
        if i % 10 == 3:
            phone, why = kinds[(i // 10) % len(kinds)]
            tz = "Mars/Olympus" if why == "time zone" else ""
            rows.append([phone, f"p{i}", "Wuchang", tz])
            bad[row_no] = why
            continue
        n = f"138{i:08d}"
        forms = [n, f"+86 {n[:3]} {n[3:7]} {n[7:]}", f"0086-{n}", f"({n[:3]}) {n[3:]}"]
        written = rng.choice(forms)
        rows.append([written, f"p{i}", "Wuchang", ""])
        good.add(n)
    rows.append([f"+86{sorted(good)[0]}", "same person again", "Wuchang", ""])
    listing = tmp_path / "list.csv"
    write_csv(listing, rows, delimiter=";", bom=True)
    store = Store(tmp_path / "s.db")
    rep = load_list(store, listing)
    assert rep.loaded == len(good)
    assert rep.duplicates == 1
    assert {r.row for r in rep.rejected} == set(bad)
    for r in rep.rejected:
        assert bad[r.row] in r.reason or (bad[r.row] == "digits" and "valid" in r.reason), r
    again = load_list(store, listing)  # the same list added later
    assert again.loaded == 0 and again.duplicates == len(good) + 1


def test_list_without_phone_column_says_where(tmp_path: Path) -> None:
    listing = tmp_path / "l.csv"
    write_csv(listing, [["number", "name"], ["13800138000", "x"]])
    store = Store(tmp_path / "s.db")
    with pytest.raises(UsageError, match=r"l\.csv: line 1: no 'phone' column"):
        load_list(store, listing)
    assert store.campaign_names() == []  # a failed load leaves no campaign behind


def test_do_not_call_numbers_never_load(tmp_path: Path) -> None:
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone"], ["13800138000"], ["13800138001"], ["13800138002"]])
    dnc = tmp_path / "dnc.txt"
    dnc.write_text("+86 138 0013 8001\n", encoding="utf-8")
    store = Store(tmp_path / "s.db")
    rep = load_list(store, listing, dnc_path=dnc)
    assert rep.loaded == 2 and rep.dnc == 1
    assert ("+8613800138001", "") not in store.known_numbers("c")
    assert "13800138001" not in json.dumps(rep.as_dict())  # masked in the report


def test_no_call_outside_calling_hours(tmp_path: Path) -> None:
    zones = ["Asia/Shanghai", "America/New_York", "Europe/Berlin", "Australia/Sydney",
             "America/Los_Angeles"] * 8
    store = campaign_store(tmp_path, zones)
    pool = FakePool()
    c = store.campaign("c")
    asyncio.run(Dispatcher(store, c, RunParams(lines=7, cps=0.05), pool).run())
    assert len(pool.jobs) == 60  # 40 contacts, the 20 busy ones twice
    tz = {r.id: r.timezone for r in store.contacts_of("c")}
    for job in pool.jobs:
        assert is_open(job.started, tz[job.contact_id], c.settings), job
    retried = [j for j in pool.jobs if j.attempt == 2]
    first = {j.contact_id: j.started for j in pool.jobs if j.attempt == 1}
    assert all(j.started >= first[j.contact_id] + 120 + 15 * 60 for j in retried)


def test_opted_out_numbers_are_never_dialled(tmp_path: Path) -> None:
    store = campaign_store(tmp_path, ["America/New_York"] * 6)
    victim = store.contact(3).e164
    store.opt_out(victim, "", "old", 0.0)
    pool = FakePool()
    asyncio.run(Dispatcher(store, store.campaign("c"), RunParams(lines=3), pool).run())
    assert 3 not in {j.contact_id for j in pool.jobs}
    assert len({j.contact_id for j in pool.jobs}) == 5


def test_results_apply_once(tmp_path: Path) -> None:
    store = campaign_store(tmp_path, ["America/New_York"])
    c = store.campaign("c")
    r = CallOutcome(id="c:1:1", contact_id=1, attempt=1, started=START, duration=60,
                    outcome="completed", risk="red",
                    answers=(("consent", "yes", "speech"), ("fever", "yes", "keypad")))
    assert store.apply("c", r, c.settings)
    assert not store.apply("c", r, c.settings)
    assert [r for r in store.tallies.rows("c") if r[0] == "fever"] == [
        ["fever", "unknown", "yes", 1]]


def test_report_masks_numbers_and_neutralises_formulas(tmp_path: Path) -> None:
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone", "name", "district"], ["13800138000", "=HYPERLINK(\"x\")", "@d"]])
    store = Store(tmp_path / "s.db")
    load_list(store, listing)
    text = report(store, "c", "csv", reveal=False)
    assert "13800138000" not in text and mask("+8613800138000") in text
    assert "'=HYPERLINK" in text and "'@d" in text
    revealed = list(csv.DictReader(io.StringIO(report(store, "c", "csv", reveal=True))))
    assert revealed[0]["phone"] == "+8613800138000"  # the exact cell, which loads back


def test_wilson_interval() -> None:
    est, lo, hi = wilson(20, 100)
    assert est == 0.2 and 0.13 < lo < 0.14 and 0.28 < hi < 0.29
    assert wilson(0, 50)[1] == 0.0


def test_settings_roundtrip() -> None:
    s = CampaignSettings(hours_start=8, retry_minutes=(5, 10))
    assert CampaignSettings.from_json(s.to_json()) == s


@pytest.mark.slow
def test_kill_9_and_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone", "district"]] + [[f"138{i:08d}", f"d{i % 3}"]
                                                  for i in range(60)])
    base = tmp_path / "base.db"
    store = Store(base)
    load_list(store, listing, "k", seed=3, start_at=1581300000.0)  # 10:00 in Beijing
    store.close()
    shutil.copy(base, tmp_path / "killed.db")
    args = ("run", "k", "--no-progress", "--lines", "8", "--processes", "2")
    straight = healthdial(*args, db=base)
    assert straight.wait(timeout=600) == 0
    rng = random.Random(11)
    kills = 0
    while kills < 5:
        p = healthdial(*args, db=tmp_path / "killed.db")
        time.sleep(rng.uniform(2.5, 6.0))
        if p.poll() is not None:
            break  # finished before the kill
        p.send_signal(signal.SIGKILL)
        p.wait()
        kills += 1
    final = healthdial(*args, db=tmp_path / "killed.db")
    assert final.wait(timeout=600) == 0
    assert kills >= 3
    a, b = Store(base), Store(tmp_path / "killed.db")
    for x, y in zip(json.loads(a.dump("k")), json.loads(b.dump("k")), strict=True):
        assert [r for r in x if r not in y] == [r for r in y if r not in x] == []
    attempts = [(r.contact_id, r.attempt) for r in b.attempts_of("k")]
    assert len(attempts) == len(set(attempts))  # no attempt made twice
    completed = [r.contact_id for r in b.attempts_of("k") if r.outcome == "completed"]
    assert len(completed) == len(set(completed))
    assert "pending" not in b.counts("k").status


def test_opt_out_in_one_campaign_blocks_the_number_everywhere(tmp_path: Path) -> None:
    store = campaign_store(tmp_path, ["America/New_York"] * 2)
    c = store.campaign("c")
    stop = CallOutcome(id="c:1:1", contact_id=1, attempt=1, started=START, duration=40,
                       outcome="opted_out")
    store.apply("c", stop, c.settings)
    number = store.contact(1).e164
    assert number in store.opted_out()
    assert 1 not in {r.id for r in store.pending("c")}
    listing = tmp_path / "again.csv"
    write_csv(listing, [["phone"], [number]])
    with pytest.raises(UsageError, match="do-not-call list"):  # no empty campaign made
        load_list(store, listing, "other", "US")
    assert not store.has_campaign("other")
    write_csv(listing, [["phone"], [number], ["+12025550199"]])
    rep = load_list(store, listing, "other", "US")
    assert rep.loaded == 1 and rep.dnc == 1 and rep.rejected == []


def test_realtime_clock_paces_calls_by_the_wall_clock(tmp_path: Path) -> None:
    store = campaign_store(tmp_path, ["UTC"] * 4)
    store.update_campaign("c", CampaignSettings(hours_start=0, hours_end=24))
    pool = FakePool(busy_odd=False)
    t0 = time.monotonic()
    asyncio.run(Dispatcher(store, store.campaign("c"), RunParams(lines=4, cps=5, realtime=True),
                           pool).run())
    assert time.monotonic() - t0 >= 0.55  # 4 starts at 5 per second
    starts = sorted(j.started for j in pool.jobs if j.attempt == 1)
    assert len(starts) == 4
    assert all(b - a >= 0.19 for a, b in itertools.pairwise(starts))


def test_realtime_dispatcher_keeps_applying_results_while_a_retry_is_due_later(
        tmp_path: Path) -> None:
    """A contact due in an hour must not stall the lines, nor the results of the others."""
    store = campaign_store(tmp_path, ["UTC"] * 4)
    store.update_campaign("c", CampaignSettings(hours_start=0, hours_end=24))
    pool = FakePool(busy_odd=False)
    d = Dispatcher(store, store.campaign("c"), RunParams(lines=4, cps=50, realtime=True), pool)
    later = time.time() + 3600
    d.due = [(later, 1)] + [(t, cid) for t, cid in d.due if cid != 1]
    heapq.heapify(d.due)

    async def one_round() -> None:
        await d._dispatch()
        while d.inflight:
            d._receive()

    t0 = time.monotonic()
    asyncio.run(one_round())
    assert time.monotonic() - t0 < 1.0
    assert sorted(j.contact_id for j in pool.jobs) == [2, 3, 4]
    assert d.due == [(later, 1)] and 0 < d._idle_s() <= 1.0
    assert store.attempts_made("c") == 3


def test_load_command_json_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dialer.cli import main

    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone", "name"], ["13800138000", "a"], ["+86 138 0013 8000", "a"],
                        ["nonsense", "b"]], delimiter="\t")
    db = str(tmp_path / "s.db")
    assert main(["load", str(listing), "--campaign", "x", "--script", str(EN), "--db", db,
                 "--hours", "8-21", "--json"]) == 1  # 1: a row was rejected (README)
    out = json.loads(capsys.readouterr().out)
    assert out["loaded"] == 1 and out["duplicates"] == 1
    assert out["rejected"][0]["row"] == 4 and "not a phone number" in out["rejected"][0]["reason"]
    assert Store(db).campaign("x").settings.hours_end == 21
    assert main(["status", "nope", "--db", db]) == 2
    err = capsys.readouterr().err
    assert "no campaign 'nope'" in err and "x" not in err.split("'nope'")[1]  # names unlisted


def test_outcome_carries_turn_latencies_and_older_results_still_apply() -> None:
    o = CallOutcome(id="c:1:1", contact_id=1, attempt=1, started=0.0, duration=10.0,
                    outcome="completed", latency_s=(0.05, 0.2))
    assert CallOutcome.from_json(o.to_json()) == o
    older = {k: v for k, v in json.loads(o.to_json()).items() if k not in ("latency_s",
                                                                          "reason")}
    assert CallOutcome.from_json(json.dumps(older)).latency_s == ()


def test_dispatcher_shows_the_turn_latency_of_realtime_calls(tmp_path: Path) -> None:
    from dialer.dispatch.dispatcher import RunStats

    stats = RunStats()
    assert stats.latency_p99_ms is None
    stats.latency_s.extend([0.05] * 99 + [0.5])
    assert stats.latency_p99_ms == pytest.approx(50 + 0.01 * 450, rel=0.01)


def test_meter_keeps_its_window_and_gives_percentiles() -> None:
    from dialer.meter import Meter, percentiles

    m = Meter(latency=[(1.0, 0.1), (2.0, 0.2), (3.0, 0.3)])
    assert Meter.window(m.latency, 1.5, 3.0) == [0.2]
    p = percentiles([0.1] * 99 + [1.0])
    assert p["p50_ms"] == 100.0 and p["max_ms"] == 1000.0 and p["n"] == 100
    assert percentiles([])["p99_ms"] is None
