"""What a new user broke (issue 17): calling hours across zones, a second dispatcher by
another path, recordings and purges, our own errors, lost input, messages."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dialer.campaign.reports import respondents
from dialer.cli import main
from dialer.dispatch.dispatcher import Dispatcher, RunParams
from dialer.policy.settings import CampaignSettings
from dialer.store import Store
from survey_scripts.errors import CampaignBusy, StoreError
from tests.helpers import START, FakePool, load_list, write_csv


def _hour(t: float, zone: str) -> int:
    return datetime.fromtimestamp(t, ZoneInfo(zone)).hour


def _one_contact(tmp_path: Path) -> tuple[Path, Store]:
    """A store with campaign "c" (the English survey) of one contact."""
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone"], ["13800000001"]])
    db = tmp_path / "s.db"
    store = Store(db)
    load_list(store, listing, "c", start_at=START)
    return db, store


def test_a_number_in_many_zones_is_called_only_when_every_zone_allows(tmp_path: Path) -> None:
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone"], ["+7 916 123-45-67"], ["+1 800 555 0101"],
                        ["+7 903 765-43-21"]])
    store = Store(tmp_path / "s.db")
    rep = load_list(store, listing, "z", "US", start_at=START)
    assert rep.loaded == 3 and not rep.rejected
    zones = {r.e164: r.timezone.split() for r in store.contacts_of("z")}
    assert {"Europe/Moscow", "Asia/Kamchatka"} <= set(zones["+79161234567"])
    assert {"America/New_York", "America/Adak"} <= set(zones["+18005550101"])
    pool = FakePool(busy_odd=True)
    asyncio.run(Dispatcher(store, store.campaign("z"), RunParams(lines=3), pool).run())
    assert len(pool.jobs) >= 3
    for job in pool.jobs:
        for zone in zones[job.number]:
            assert 9 <= _hour(job.started, zone) < 20, (job.number, zone, job.started)
    shown = {r["phone"][:5]: r["timezone"] for r in respondents(store, "z", reveal=False)}
    assert "Europe/Moscow" in shown["+7916"]  # the zones assumed are in the report


def test_a_number_whose_zones_share_no_calling_hour_is_rejected_at_load(tmp_path: Path) -> None:
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone", "timezone"], ["+7 916 123-45-67", ""],
                        ["+7 916 123-45-68", "Europe/Moscow"]])
    store = Store(tmp_path / "s.db")
    rep = load_list(store, listing, "z", "RU", start_at=START,
                    settings=CampaignSettings(hours_start=10, hours_end=18))
    assert rep.loaded == 1
    assert [r.row for r in rep.rejected] == [2]
    assert "timezone column" in rep.rejected[0].reason
    assert "+79161234567" not in rep.rejected[0].reason  # masked


def test_set_hours_that_close_a_numbers_zones_sets_it_aside_without_an_attempt(
        tmp_path: Path) -> None:
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone"], ["+7 916 123-45-67"], ["+7 495 123-45-67"]])
    store = Store(tmp_path / "s.db")
    load_list(store, listing, "z", "RU", start_at=START)
    store.update_campaign("z", CampaignSettings(hours_start=10, hours_end=18))
    pool = FakePool(busy_odd=False)
    asyncio.run(Dispatcher(store, store.campaign("z"), RunParams(lines=2), pool).run())
    rows = {r.e164: r for r in store.contacts_of("z")}
    assert [j.number for j in pool.jobs] == ["+74951234567"]
    assert rows["+79161234567"].status == "set_aside"
    assert rows["+79161234567"].attempts == 0
    assert "timezone" in rows["+79161234567"].reason


def test_a_closed_window_in_one_zone_delays_no_other_call(tmp_path: Path) -> None:
    """START is 20:00 in New York (closed) and 09:00 in Beijing (open)."""
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone", "timezone"], ["+12025550100", "America/New_York"],
                        ["+8613800138000", "Asia/Shanghai"], ["+8613800138001", "Asia/Shanghai"]])
    store = Store(tmp_path / "s.db")
    load_list(store, listing, "z", "CN", start_at=START)
    pool = FakePool(busy_odd=True)
    asyncio.run(Dispatcher(store, store.campaign("z"), RunParams(lines=1), pool).run())
    beijing = sorted(j.started for j in pool.jobs if j.number.startswith("+86"))
    assert beijing[0] - START < 60
    assert beijing[-1] - START < 3600  # the retry 15 min on, not the next New York morning
    ny = [j.started for j in pool.jobs if j.number.startswith("+1")]
    assert ny and all(9 <= _hour(t, "America/New_York") < 20 for t in ny)


def test_two_paths_to_one_store_are_one_lock(tmp_path: Path) -> None:
    from dialer.dispatch.lock import CampaignLock

    store = Store(tmp_path / "t3.db")
    store.close()
    (tmp_path / "link3.db").symlink_to(tmp_path / "t3.db")
    first = CampaignLock(str(tmp_path / "t3.db"), "c3").acquire()
    try:
        for other in (tmp_path / "link3.db", tmp_path / "." / "t3.db"):
            with pytest.raises(CampaignBusy):
                CampaignLock(str(other), "c3").acquire()
            assert Store(other).path == Store(tmp_path / "t3.db").path
    finally:
        first.release()
    os.link(tmp_path / "t3.db", tmp_path / "hard3.db")
    with pytest.raises(StoreError, match="hard links"):
        Store(tmp_path / "hard3.db")


def test_a_file_that_is_not_a_store_is_never_changed(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    foreign = tmp_path / "other.db"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE notes(x)")
    db.commit()
    db.close()
    os.chmod(foreign, 0o644)
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    os.chmod(text, 0o644)
    before = {p: p.read_bytes() for p in (foreign, text)}
    for p in (foreign, text):
        assert main(["campaigns", "--db", str(p)]) == 3
        assert "not a healthdial store" in capsys.readouterr().err
        assert p.read_bytes() == before[p]
        assert stat.S_IMODE(p.stat().st_mode) == 0o644
    assert {x.name for x in tmp_path.iterdir()} == {"other.db", "notes.txt"}


def _recorded_call(store: Store, campaign: str, i: int) -> None:
    from dialer.calllog import CallLog, LoggedPlay, LoggedPrompt, LoggedTurn
    from dialer.recordings import files as recordings
    from dialer.wire import CallOutcome

    contact = store.contacts_of(campaign)[i]
    turn = LoggedTurn(LoggedPrompt("consent", "question", "May we ask?", "ab"), 0.5, 1.0,
                      (1.2, 1.6), 2.3, "pocketsphinx", "yes_no", "yes", "yes", False, 0.9,
                      decision="accepted")
    log = CallLog(f"{campaign}:{contact.id}:1", contact.id, 1, "s", True, "completed", {},
                  10.0, (LoggedPlay(0.0, 0, 4000),), (turn,)).to_json()
    r = CallOutcome(id=f"{campaign}:{contact.id}:1", contact_id=contact.id, attempt=1,
                    started=START, duration=10.0, outcome="completed",
                    recording=b"fLaC" + b"\0" * 100, log=log)
    recordings.save(store, campaign, r, store.campaign(campaign).settings)


def test_a_purge_from_another_folder_removes_the_files_and_counts_true(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dialer.recordings.files import purge_expired

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone"], ["13800000001"], ["13800000002"]])
    monkeypatch.chdir(tmp_path / "a")
    store = Store("../s.db")  # `run` started in a/, the store one folder up
    load_list(store, listing, "c", start_at=START, settings=CampaignSettings(keep_days=2))
    _recorded_call(store, "c", 0)
    _recorded_call(store, "c", 1)
    files = sorted((tmp_path / "s.db.recordings" / "c").iterdir())
    assert len(files) == 4
    monkeypatch.chdir(tmp_path / "b")
    other = Store("../s.db")
    assert all(Path(r.audio).is_absolute() for r in other.recordings_of("c"))
    files[0].unlink()  # one recording's audio already gone by hand
    purged = purge_expired(other, now=1e12)
    assert (purged.removed, purged.missing) == (1, 1)
    assert list((tmp_path / "s.db.recordings" / "c").iterdir()) == []
    assert "already gone" in str(purged)


def test_shorter_keep_days_shorten_the_recordings_made_and_a_full_disk_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time as _time

    from dialer.campaign.admin import change
    from dialer.recordings import files as recordings
    from dialer.recordings.files import purge_expired

    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone"], ["13800000001"], ["13800000002"]])
    store = Store(tmp_path / "s.db")
    load_list(store, listing, "c", start_at=START, settings=CampaignSettings(keep_days=30))
    _recorded_call(store, "c", 0)
    change(store, "c", {"keep_days": 1.0}, None)
    assert purge_expired(store, _time.time() + 2 * 86400).removed == 1  # not in 30 days

    def full(path: Path, data: bytes) -> None:
        with path.open("wb") as f:
            f.write(data[:10])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(recordings, "_write", full)
    with pytest.raises(OSError):
        _recorded_call(store, "c", 1)
    assert list((tmp_path / "s.db.recordings" / "c").iterdir()) == []


@pytest.mark.parametrize("edit", [("voice: gmw/en-us+klatt3", "voice: zz/nonexistent"),
                                  ('keypad_choice: "Please use your keypad. Press {options}."',
                                   'keypad_choice: "Please use your keypad. Press {0}."')])
def test_a_survey_that_cannot_be_spoken_stops_at_load_and_a_new_one_is_allowed(
        tmp_path: Path, capsys, edit: tuple[str, str]) -> None:  # type: ignore[no-untyped-def]
    from dialer.campaign.admin import change
    from tests.conftest import EN

    text = EN.read_text()
    assert edit[0] in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(edit[0], edit[1]))
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone"], ["13800000001"], ["13800000002"]])
    db = tmp_path / "s.db"
    assert main(["load", str(listing), "--campaign", "c", "--script", str(bad), "--db",
                 str(db)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and ("voice" in err or "{0}" in err)
    assert main(["call", "--script", str(bad)]) == 2
    assert "Traceback" not in capsys.readouterr().err
    # a campaign whose calls reached nobody yet takes a new survey
    store = Store(db)
    load_list(store, listing, "c", start_at=START)
    from dialer.wire import CallOutcome

    cid = store.contacts_of("c")[0].id
    store.apply("c", CallOutcome(id=f"c:{cid}:1", contact_id=cid, attempt=1, started=START,
                                 duration=5.0, outcome="busy"),
                store.campaign("c").settings)
    short = Path(__file__).parent / "data" / "short.yaml"
    assert change(store, "c", {}, str(short)).survey_text == short.read_text()


def test_a_tiny_cps_is_refused_and_one_stored_by_an_older_release_is_clamped(
        tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db, store = _one_contact(tmp_path)
    for args in (["set", "c", "--cps", "1e-300"], ["run", "c", "--cps", "1e-300"]):
        assert main([*args, "--db", str(db)]) == 2
        assert "cps must be" in capsys.readouterr().err
    store.db.execute("UPDATE campaigns SET cps=1e-300 WHERE name='c'")
    assert store.control("c").cps == 0.01


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


@pytest.mark.slow
def test_kill_9_of_run_with_recording_leaves_no_worker_behind(tmp_path: Path) -> None:
    import signal
    import subprocess
    import time

    from tests.helpers import healthdial

    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone"]] + [[f"138{i:08d}"] for i in range(40)])
    db = tmp_path / "s.db"
    store = Store(db)
    load_list(store, listing, "c", start_at=START, settings=CampaignSettings(record="all"))
    store.close()
    run = healthdial("run", "c", "--processes", "2", "--no-progress", db=db,
                     log=tmp_path / "log.txt")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not Store(db, create=False).attempts_made("c"):
        time.sleep(0.2)
    workers = [int(p) for p in subprocess.run(["pgrep", "-P", str(run.pid)], text=True,
                                               capture_output=True).stdout.split()]
    assert workers, "the run has worker processes"
    run.send_signal(signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.2)
    assert not [p for p in workers if _alive(p)]


def test_a_revealed_report_with_extensions_and_formulas_loads_back(tmp_path: Path) -> None:
    from dialer.campaign.reports import report

    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone", "name", "district"],
                        ["+1 202-555-0143 ext. 101", "=HYPERLINK(\"x\")", "d1"],
                        ["+1 202-555-0143 ext. 102", "Ann", "d1"],
                        ["+1 202-555-0144", "Bo", "d2"], ["+1 202-555-0145", "-Cy", "d2"],
                        ["+1 202-555-0146", "Di", "d3"]])
    store = Store(tmp_path / "s.db")
    load_list(store, listing, "a", "US", start_at=START)
    out = tmp_path / "report.csv"
    out.write_text(report(store, "a", "csv", reveal=True))
    assert "+12025550143;ext=101" in out.read_text()
    rep = load_list(store, out, "b", "US", start_at=START)
    assert (rep.loaded, rep.rejected) == (5, [])
    names = {(r.e164, r.ext): r.name for r in store.contacts_of("b")}
    assert names[("+12025550143", "101")] == "=HYPERLINK(\"x\")"
    assert names[("+12025550145", "")] == "-Cy"


def test_a_doubled_column_is_refused_and_an_open_quote_swallows_no_row_silently(
        tmp_path: Path) -> None:
    from survey_scripts.errors import UsageError

    twice = tmp_path / "twice.csv"
    twice.write_text("phone,name,phone\n13800000001,a,13800000002\n")
    store = Store(tmp_path / "s.db")
    with pytest.raises(UsageError, match=r"'phone' appears 2 times \(columns 1, 3\)"):
        load_list(store, twice, "t", start_at=START)
    assert not store.has_campaign("t")
    quoted = tmp_path / "q.csv"
    quoted.write_text('phone,name\n13800000001,"Ann\n13800000002,Bo"\n13800000003,Cy\n'
                      '13800000004,Di\n')
    rep = load_list(store, quoted, "q", start_at=START)
    assert rep.loaded == 2
    assert [r.row for r in rep.rejected] == [2]
    assert "not closed" in rep.rejected[0].reason
    rows = sorted(r.name for r in store.contacts_of("q"))
    assert rows == ["Cy", "Di"]


def test_recognize_reads_a_mu_law_wav_and_hears_as_the_corpus_does(tmp_path: Path,
                                                                   capsys) -> None:  # type: ignore[no-untyped-def]
    import json as _json

    import soundfile

    from dialer.recordings.corpus import score_corpus
    from speech.tts import Synthesizer, Voice

    a = Synthesizer().speak("yes", Voice("flite", "kal16"))
    wav = tmp_path / "yes-ulaw.wav"
    soundfile.write(wav, a.samples, a.rate, subtype="ULAW")
    assert main(["recognize", "--question", "cough", str(wav)]) == 0
    line = _json.loads(capsys.readouterr().out.strip())
    (tmp_path / "manifest.csv").write_text("file,question,expected,source\n"
                                           "yes-ulaw.wav,cough,yes,synthetic\n")
    row = score_corpus(tmp_path).rows[0]
    assert (line["answer"], line["confidence"]) == (row["heard"], row["confidence"])
    assert line["answer"] == "yes"


def test_load_exit_codes_blocked_contacts_and_names(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import EN

    db = tmp_path / "s.db"
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone"], ["13800000001"], ["not a number"], ["13800000002"]])
    dnc = tmp_path / "dnc.txt"
    dnc.write_text("13800000002\n")
    load = ["load", str(listing), "--script", str(EN), "--db", str(db)]
    for bad in (".", ".."):
        assert main([*load, "--campaign", bad]) == 2
    assert main([*load, "--campaign", "c", "--dnc", str(dnc)]) == 1  # a row rejected
    out = capsys.readouterr().out
    assert "do-not-call 1, rejected 1" in out
    empty = tmp_path / "bad.csv"
    write_csv(empty, [["phone"], ["nope"], ["nada"]])
    assert main(["load", str(empty), "--campaign", "e", "--script", str(EN), "--db",
                 str(db)]) == 2
    assert "was not created" in capsys.readouterr().err
    (tmp_path / "d2.txt").write_text("13800000001\n")
    assert main(["dnc", "add", str(tmp_path / "d2.txt"), "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["status", "c", "--db", str(db), "--json"]) == 0
    import json as _json
    st = _json.loads(capsys.readouterr().out)
    assert (st["blocked"], st["pending"]) == (1, 0)
    store = Store(db)
    assert [r["status"] for r in respondents(store, "c", reveal=False)] == ["blocked"]
    assert not store.has_campaign("e")


def test_cli_reveals_are_audited_and_a_revoked_name_is_free(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db, store = _one_contact(tmp_path)
    for args in (["report", "c", "--reveal"], ["followups", "c", "--reveal"],
                 ["dnc", "list", "--reveal"]):
        assert main([*args, "--db", str(db)]) == 0
    actions = [(r.action, r.detail) for r in store.audit_log()]
    assert [a for a, _ in actions].count("reveal") == 3
    assert main(["token", "ann", "--role", "operator", "--db", str(db)]) == 0
    assert main(["token", "ann", "--revoke", "--db", str(db)]) == 0
    assert main(["token", "ann", "--role", "official", "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["token", "--list", "--db", str(db)]) == 0
    listed = capsys.readouterr().out
    assert "revoked" in listed and "official" in listed


def test_messages_for_rough_edges(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    import socket

    from tests.conftest import EN

    db = tmp_path / "s.db"
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone"], ["+1 202 555 0143"]])
    assert main(["load", str(listing), "--campaign", "u", "--script", str(EN), "--region",
                 "us", "--db", str(db)]) == 0
    assert main(["set", "u", "--retry-minutes", "15,,45", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "--retry-minutes" in err and "--hours" not in err
    assert main(["pause", "u", "--db", str(db)]) == 0
    assert Store(db).control("u").reason.startswith("paused by cli:")
    assert main(["stop", "u", "--yes", "--db", str(db)]) == 0
    assert Store(db).control("u").reason.startswith("stopped by cli:")
    with pytest.raises(SystemExit) as version:
        main(["--version"])
    assert version.value.code == 0 and "healthdial" in capsys.readouterr().out
    assert main(["status", "u", "--db", str(db), "-v"]) == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--db", str(db), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert "another number" in err and "Traceback" not in err


def test_a_closed_pipe_and_a_mangled_call_log_are_no_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import ROOT

    db = tmp_path / "s.db"
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone"]] + [[f"138{i:08d}"] for i in range(3000)])
    store = Store(db)
    load_list(store, listing, "c", start_at=START)
    store.close()
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    cmd = f"{sys.executable} -m dialer.cli report c --db {db} | head -1"
    done = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)
    assert done.stdout.startswith("phone,") and "Traceback" not in done.stderr
    assert "BrokenPipe" not in done.stderr
    import numpy as np
    import soundfile

    flac = tmp_path / "x.flac"
    soundfile.write(flac, np.zeros((8000, 2), dtype=np.int16), 8000)
    (tmp_path / "x.json").write_text('{"turns": [{"decision": "accepted"}]}')
    done = subprocess.run([sys.executable, "-m", "dialer.cli", "replay", str(flac),
                           str(tmp_path / "gone.flac")], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "not a healthdial call log" in done.stdout and "no such recording" in done.stdout


def test_a_survey_in_another_language_than_the_engine_points_at_the_engine(
        tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import KO

    db, store = _one_contact(tmp_path)  # English: pocketsphinx
    _recorded_call(store, "c", 0)
    assert main(["replay", "--campaign", "c", "--script", str(KO), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "--engine vosk" in err and "reword" not in err


def test_schema_5_makes_recording_paths_absolute_beside_the_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.db.execute("INSERT INTO recordings(attempt_id, campaign, contact_id, audio, log, "
                     "bytes, keep_until) VALUES ('c:1:1', 'c', 1, 's.db.recordings/c/c-1-1.flac',"
                     " '../x/s.db.recordings/c/c-1-1.json', 10, 0)")
    store.db.execute("PRAGMA user_version = 4")
    store.close()
    again = Store(tmp_path / "s.db")
    assert again.migrated == [5, 6]
    row = again.db.execute("SELECT audio, log FROM recordings").fetchone()
    home = os.path.realpath(tmp_path / "s.db") + ".recordings/c/"
    assert (row["audio"], row["log"]) == (home + "c-1-1.flac", home + "c-1-1.json")


def test_realtime_says_when_it_waits_for_calling_hours(tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    import logging
    import time as _time

    listing = tmp_path / "l.csv"
    hour = datetime.now(ZoneInfo("UTC")).hour
    closed = CampaignSettings(hours_start=(hour + 2) % 22, hours_end=(hour + 2) % 22 + 1)
    write_csv(listing, [["phone", "timezone"], ["13800000001", "UTC"]])
    store = Store(tmp_path / "s.db")
    load_list(store, listing, "c", start_at=_time.time(), settings=closed)
    d = Dispatcher(store, store.campaign("c"), RunParams(lines=1, realtime=True), FakePool())
    with caplog.at_level(logging.WARNING):
        assert asyncio.run(d._next_live()) is None
    assert "outside calling hours" in caplog.text and d.due and d.due[0][0] > _time.time()
