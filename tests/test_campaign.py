"""Campaigns: call lists, the store, the dispatcher's rules, and crash-resume."""

from __future__ import annotations

import asyncio
import csv
import heapq
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dialer.campaign import load
from dialer.contacts import mask
from dialer.dispatcher import Dispatcher, RunParams
from dialer.hours import is_open
from dialer.reports import report, wilson
from dialer.settings import CampaignSettings
from dialer.store import CallOutcome, Store
from tests.conftest import EN, ROOT

START = 1581296400.0  # 2020-02-10 01:00 UTC: night in Beijing, evening in New York


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",", bom: bool = False) -> None:
    with path.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)


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
    rep = load(store, listing, "c", str(EN), "CN", None)
    assert rep.loaded == len(good)
    assert rep.duplicates == 1
    assert {r.row for r in rep.rejected} == set(bad)
    for r in rep.rejected:
        assert bad[r.row] in r.reason or (bad[r.row] == "digits" and "valid" in r.reason), r
    again = load(store, listing, "c", str(EN), "CN", None)  # the same list added later
    assert again.loaded == 0 and again.duplicates == len(good) + 1


def test_list_without_phone_column_says_where(tmp_path: Path) -> None:
    listing = tmp_path / "l.csv"
    write_csv(listing, [["number", "name"], ["13800138000", "x"]])
    with pytest.raises(Exception, match=r"l\.csv: line 1: no 'phone' column"):
        load(Store(tmp_path / "s.db"), listing, "c", str(EN), "CN", None)


def test_do_not_call_numbers_never_load(tmp_path: Path) -> None:
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone"], ["13800138000"], ["13800138001"], ["13800138002"]])
    dnc = tmp_path / "dnc.txt"
    dnc.write_text("+86 138 0013 8001\n", encoding="utf-8")
    store = Store(tmp_path / "s.db")
    rep = load(store, listing, "c", str(EN), "CN", dnc)
    assert rep.loaded == 2 and rep.dnc == 1
    assert "+8613800138001" not in store.known_numbers("c")
    assert "13800138001" not in json.dumps(rep.as_dict())  # masked in the report


class FakePool:
    """Answers every call at once: busy on odd first attempts, then completed."""

    def __init__(self, busy_odd: bool = True) -> None:
        self.busy_odd = busy_odd
        self.jobs: list[dict[str, Any]] = []
        self.ready: list[dict[str, Any]] = []

    def submit(self, batch: list[dict[str, Any]]) -> None:
        for job in batch:
            self.jobs.append(job)
            busy = self.busy_odd and job["contact_id"] % 2 and job["attempt"] == 1
            outcome = "busy" if busy else "completed"
            answers = (("consent", "yes", "speech"), ("fever", "no", "speech"))
            self.ready.append(CallOutcome(job["id"], job["contact_id"], job["attempt"],
                                          job["started"], 120.0, outcome, "green",
                                          answers if outcome == "completed" else ()).to_dict())

    def result(self, timeout: float) -> dict[str, Any] | None:
        return self.ready.pop(0) if self.ready else None

    def alive(self) -> int:
        return 1


def _campaign(tmp_path: Path, zones: list[str]) -> Store:
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone", "timezone"]] + [[f"+1202555{i:04d}", z]
                                                  for i, z in enumerate(zones)])
    store = Store(tmp_path / "s.db")
    load(store, listing, "c", str(EN), "US", None, start_at=START)
    return store


def test_no_call_outside_calling_hours(tmp_path: Path) -> None:
    zones = ["Asia/Shanghai", "America/New_York", "Europe/Berlin", "Australia/Sydney",
             "America/Los_Angeles"] * 8
    store = _campaign(tmp_path, zones)
    pool = FakePool()
    c = store.campaign("c")
    asyncio.run(Dispatcher(store, c, RunParams(lines=7, cps=0.05), pool).run())
    assert len(pool.jobs) == 60  # 40 contacts, the 20 busy ones twice
    tz = {r["id"]: r["timezone"] for r in store.rows("SELECT id, timezone FROM contacts")}
    for job in pool.jobs:
        assert is_open(job["started"], tz[job["contact_id"]], c.settings), job
    retried = [j for j in pool.jobs if j["attempt"] == 2]
    first = {j["contact_id"]: j["started"] for j in pool.jobs if j["attempt"] == 1}
    assert all(j["started"] >= first[j["contact_id"]] + 120 + 15 * 60 for j in retried)


def test_opted_out_numbers_are_never_dialled(tmp_path: Path) -> None:
    store = _campaign(tmp_path, ["America/New_York"] * 6)
    victim = store.rows("SELECT e164 FROM contacts WHERE id=3")[0][0]
    store.db.execute("INSERT INTO optouts(e164, campaign, at) VALUES (?, 'old', 0)", (victim,))
    pool = FakePool()
    asyncio.run(Dispatcher(store, store.campaign("c"), RunParams(lines=3), pool).run())
    assert 3 not in {j["contact_id"] for j in pool.jobs}
    assert len({j["contact_id"] for j in pool.jobs}) == 5


def test_results_apply_once(tmp_path: Path) -> None:
    store = _campaign(tmp_path, ["America/New_York"])
    c = store.campaign("c")
    r = CallOutcome("c:1:1", 1, 1, START, 60, "completed", "red",
                    (("consent", "yes", "speech"), ("fever", "yes", "keypad")))
    assert store.apply("c", r, c.settings)
    assert not store.apply("c", r, c.settings)
    n = store.rows("SELECT SUM(n) FROM aggregates WHERE question='fever'")[0][0]
    assert n == 1


def test_report_masks_numbers_and_neutralises_formulas(tmp_path: Path) -> None:
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone", "name", "district"], ["13800138000", "=HYPERLINK(\"x\")", "@d"]])
    store = Store(tmp_path / "s.db")
    load(store, listing, "c", str(EN), "CN", None)
    text = report(store, "c", "csv", reveal=False)
    assert "13800138000" not in text and mask("+8613800138000") in text
    assert "'=HYPERLINK" in text and "'@d" in text
    assert "+8613800138000" in report(store, "c", "csv", reveal=True)


def test_wilson_interval() -> None:
    est, lo, hi = wilson(20, 100)
    assert est == 0.2 and 0.13 < lo < 0.14 and 0.28 < hi < 0.29
    assert wilson(0, 50)[1] == 0.0


def test_settings_roundtrip() -> None:
    s = CampaignSettings(hours_start=8, retry_minutes=(5, 10))
    assert CampaignSettings.from_json(s.to_json()) == s


def _healthdial(*args: str, db: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HEALTHDIAL_DB": str(db), "PYTHONPATH": str(ROOT)}
    with (db.parent / "stderr.log").open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "dialer.cli", *args], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=log)


@pytest.mark.slow
def test_kill_9_and_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone", "district"]] + [[f"138{i:08d}", f"d{i % 3}"]
                                                  for i in range(60)])
    base = tmp_path / "base.db"
    store = Store(base)
    load(store, listing, "k", str(EN), "CN", None, seed=3,
         start_at=1581300000.0)  # 2020-02-10 10:00 in Beijing
    store.close()
    shutil.copy(base, tmp_path / "killed.db")
    args = ("run", "k", "--no-progress", "--lines", "8", "--processes", "2")
    straight = _healthdial(*args, db=base)
    assert straight.wait(timeout=600) == 0
    rng = random.Random(11)
    kills = 0
    while kills < 5:
        p = _healthdial(*args, db=tmp_path / "killed.db")
        time.sleep(rng.uniform(2.5, 6.0))
        if p.poll() is not None:
            break  # finished before the kill
        p.send_signal(signal.SIGKILL)
        p.wait()
        kills += 1
    final = _healthdial(*args, db=tmp_path / "killed.db")
    assert final.wait(timeout=600) == 0
    assert kills >= 3
    a, b = Store(base), Store(tmp_path / "killed.db")
    for x, y in zip(json.loads(a.dump("k")), json.loads(b.dump("k")), strict=True):
        assert [r for r in x if r not in y] == [r for r in y if r not in x] == []
    dupes = b.rows("SELECT contact_id, attempt, COUNT(*) FROM attempts GROUP BY 1, 2 HAVING"
                   " COUNT(*) > 1")
    assert dupes == []
    completed_twice = b.rows("SELECT contact_id FROM attempts WHERE outcome='completed' GROUP"
                             " BY 1 HAVING COUNT(*) > 1")
    assert completed_twice == []
    assert b.rows("SELECT COUNT(*) FROM contacts WHERE status='pending'")[0][0] == 0


def test_opt_out_in_one_campaign_blocks_the_number_everywhere(tmp_path: Path) -> None:
    store = _campaign(tmp_path, ["America/New_York"] * 2)
    c = store.campaign("c")
    stop = CallOutcome("c:1:1", 1, 1, START, 40, "opted_out")
    store.apply("c", stop, c.settings)
    number = store.rows("SELECT e164 FROM contacts WHERE id=1")[0][0]
    assert number in store.opted_out()
    assert 1 not in {r["id"] for r in store.pending("c")}
    listing = tmp_path / "again.csv"
    write_csv(listing, [["phone"], [number]])
    rep = load(store, listing, "other", str(EN), "US", None)
    assert rep.loaded == 0 and rep.dnc == 1


def test_realtime_clock_paces_calls_by_the_wall_clock(tmp_path: Path) -> None:
    store = _campaign(tmp_path, ["UTC"] * 4)
    c = store.campaign("c")
    store.db.execute("UPDATE campaigns SET settings=?",
                     (CampaignSettings(hours_start=0, hours_end=24).to_json(),))
    pool = FakePool(busy_odd=False)
    t0 = time.monotonic()
    asyncio.run(Dispatcher(store, store.campaign("c"), RunParams(lines=4, cps=5, realtime=True),
                           pool).run())
    assert time.monotonic() - t0 >= 0.55  # 4 starts at 5 per second
    starts = sorted(j["started"] for j in pool.jobs if j["attempt"] == 1)
    assert all(b - a >= 0.19 for a, b in itertools.pairwise(starts))
    assert c.name == "c"


def test_realtime_dispatcher_keeps_applying_results_while_a_retry_is_due_later(
        tmp_path: Path) -> None:
    """A contact due in an hour must not stall the lines, nor the results of the others."""
    store = _campaign(tmp_path, ["UTC"] * 4)
    store.db.execute("UPDATE campaigns SET settings=?",
                     (CampaignSettings(hours_start=0, hours_end=24).to_json(),))
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
    assert sorted(j["contact_id"] for j in pool.jobs) == [2, 3, 4]
    assert d.due == [(later, 1)] and 0 < d._idle_s() <= 1.0
    assert store.rows("SELECT COUNT(*) FROM attempts")[0][0] == 3


def test_load_command_json_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dialer.cli import main

    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone", "name"], ["13800138000", "a"], ["+86 138 0013 8000", "a"],
                        ["nonsense", "b"]], delimiter="\t")
    db = str(tmp_path / "s.db")
    assert main(["load", str(listing), "--campaign", "x", "--script", str(EN), "--db", db,
                 "--hours", "8-21", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["loaded"] == 1 and out["duplicates"] == 1
    assert out["rejected"][0]["row"] == 4 and "not a phone number" in out["rejected"][0]["reason"]
    assert Store(db).campaign("x").settings.hours_end == 21
    assert main(["status", "nope", "--db", db]) == 2
    assert "no campaign 'nope'" in capsys.readouterr().err


def test_outcome_carries_turn_latencies_and_older_results_still_apply() -> None:
    o = CallOutcome("c:1:1", 1, 1, 0.0, 10.0, "completed", latency_s=(0.05, 0.2))
    assert CallOutcome.from_dict(json.loads(json.dumps(o.to_dict()))) == o
    older = {k: v for k, v in o.to_dict().items() if k != "latency_s"}
    assert CallOutcome.from_dict(older).latency_s == ()


def test_dispatcher_shows_the_turn_latency_of_realtime_calls(tmp_path: Path) -> None:
    from dialer.dispatcher import RunStats

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
