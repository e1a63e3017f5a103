"""Recorded calls: policy, files and notice, replay through today's robot, purges, corpora.

Replays use the project's own pytest plugin (dialer/pytest_plugin.py): `replay_call`
and `corpus_accuracy` are fixtures any survey author gets with the package.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from dialer.cli import main
from dialer.dispatch.dispatcher import Dispatcher, RunParams
from dialer.policy.recording import keeps
from dialer.policy.settings import CampaignSettings
from dialer.recordings.files import purge_expired
from dialer.store import Store
from dialer.wire import CallOutcome
from survey_scripts.vocabulary import Decision, Outcome
from tests.conftest import EN, ROOT
from tests.helpers import START, FakePool, load_list, write_csv

RECORDINGS = ROOT / "tests" / "recordings"
PREVIOUS = ROOT / "tests" / "data" / "previous_main"  # made by the main before issue 18


# replaying the recorded calls kept in tests/ -------------------------------------------
def _explicit() -> str:
    """The built-in survey as it was when these calls were recorded: every unsure answer
    read back on its own turn (no implicit confirmation's words)."""
    text = EN.read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines(keepends=True)
             if not ln.lstrip().startswith(("implied:", "go_back:", "asked_again:"))]
    assert len(lines) == len(text.splitlines()) - 3
    return "".join(lines)


@pytest.fixture
def explicit(tmp_path: Path) -> Path:
    path = tmp_path / "explicit.yaml"
    path.write_text(_explicit(), encoding="utf-8")
    return path


def test_recorded_calls_replay_as_they_were_decided(replay_call, explicit: Path) -> None:  # type: ignore[no-untyped-def]
    report = replay_call(sorted(RECORDINGS.glob("*.flac")), script=explicit)
    assert len(report.calls) == 3 and report.turns == 13
    assert report.changed == 2 and report.same == 11
    kept = [c for c in report.calls if not c.recording.endswith("refused.flac")]
    assert all(p.then == p.now for c in kept for p in c.pairs) and len(kept[0].pairs) == 9
    refused = next(c for c in report.calls if c.recording.endswith("refused.flac"))
    assert refused.pairs[0].now == {"question": "consent", "kind": "question",
                                    "decision": "confirming", "interpreted": "answer: no",
                                    "transcript": "nope", "confidence": 0.816}


def test_a_recorded_refusal_is_now_agreed_without_its_second_read_back(replay_call) -> None:  # type: ignore[no-untyped-def]
    """Recorded before the agreement lever: "nope" (0.816), an unheard read-back, then "no i
    don't" (0.835). The same value heard twice, each unsure, is agreed (joint odds >= 0.9):
    today's robot ends the call there instead of reading back a second time."""
    refused = replay_call(RECORDINGS / "refused.flac").calls[0]
    third = refused.pairs[2]
    assert third.then["decision"] == "confirming" and third.now["decision"] == "agreed"
    assert third.now["interpreted"] == "answer: no" and refused.left_course_at == 4
    assert refused.pairs[3].now is None  # the second read-back is no longer asked


def test_recordings_made_by_the_previous_main_replay_unchanged(replay_call,  # type: ignore[no-untyped-def]
                                                               explicit: Path) -> None:
    """Made before the Line protocol's version 2 (call log format 1): a completed call, one
    with keypad answers and a voicemail replay decision for decision (on the survey as
    it was then)."""
    report = replay_call(sorted(PREVIOUS.glob("*.flac")), script=explicit)
    assert len(report.calls) == 3 and not report.skipped
    assert report.turns == 11 + 13 and report.changed == 0
    assert main(["replay", *map(str, sorted(PREVIOUS.glob("*.flac"))), "--check",
                 "--script", str(explicit)]) == 0


def test_replay_shows_where_implicit_confirmation_changes_a_recorded_call(replay_call) -> None:  # type: ignore[no-untyped-def]
    """Today's survey says an unsure answer back with the next question: where the recorded
    robot read "breathing" back on a turn of its own, today's asks the next question,
    and the replay says so and stops comparing there."""
    report = replay_call(sorted(PREVIOUS.glob("*.flac")))
    left = [c for c in report.calls if c.left_course_at is not None]
    assert left and report.changed >= 1
    changed = next(p for c in left for p in c.pairs if p.then != p.now and p.now)
    assert changed.then["decision"] == "confirming" and changed.now["decision"] == "implied"


def _narrow() -> str:
    """The survey with one way of saying no: "nope" no longer answers."""
    text = EN.read_text(encoding="utf-8")
    return text.replace('no: ["no", "nope", "no i don\'t", "no i haven\'t", "no i didn\'t", '
                        '"that is wrong"]', 'no: ["no i haven\'t"]')


def test_a_narrower_grammar_changes_named_turns(replay_call, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    narrow = tmp_path / "narrow.yaml"
    narrow.write_text(_narrow(), encoding="utf-8")
    report = replay_call(RECORDINGS / "refused.flac", script=narrow)
    assert report.changed == 2  # the answer, and the read-back that no longer comes
    pair = report.calls[0].pairs[0]
    assert pair.then["decision"] == "confirming" and pair.now["decision"] == "reprompted"
    assert report.calls[0].left_course_at == 2  # the robot now asks again: not compared on


def test_replay_command_checks_and_says_json(tmp_path: Path, capsys,  # type: ignore[no-untyped-def]
                                           explicit: Path) -> None:
    files = [str(p) for p in sorted(RECORDINGS.glob("*.flac"))]
    assert main(["replay", files[0], files[2], "--check", "--json",
                 "--script", str(explicit)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {k: out[k] for k in ("calls", "turns", "same", "changed")} == {
        "calls": 2, "turns": 9, "same": 9, "changed": 0}
    assert main(["replay", *files, "--check", "--json", "--script",
                 str(explicit)]) == 1  # refused.flac: agreed now
    out = json.loads(capsys.readouterr().out)
    assert (out["changed"], out["left_course"]) == (2, 1)
    narrow = tmp_path / "narrow.yaml"
    narrow.write_text(_narrow(), encoding="utf-8")
    assert main(["replay", files[1], "--check", "--script", str(narrow)]) == 1
    text = capsys.readouterr().out
    assert "CHANGED [question:consent] then confirming" in text and "left the recorded" in text


# the recording as a person opens it ---------------------------------------------------
def test_a_recording_is_stereo_8khz_with_its_turn_log() -> None:
    audio, rate = soundfile.read(RECORDINGS / "hung-up.flac", dtype="int16", always_2d=True)
    log = json.loads((RECORDINGS / "hung-up.json").read_text(encoding="utf-8"))
    assert rate == 8000 and audio.shape[1] == 2
    assert log["channels"] == ["robot", "callee"] and log["notice"] is True
    assert log["turns"][0]["prompt"]["text"].startswith("This call is recorded.")
    first = log["plays"][0]
    robot = audio[first["at"]:first["at"] + first["played"], 0]
    assert np.abs(robot.astype(int)).mean() > 300  # the prompt is on the robot's channel
    t = json.loads((RECORDINGS / "refused.json").read_text(encoding="utf-8"))["turns"][1]
    assert {"started_s", "speech_s", "recognizer", "grammar", "transcript", "raw", "confidence",
            "interpreted", "decision", "latency_s"} <= set(t)
    assert t["decision"] == "denied" and t["rejected"] is True  # a read-back not heard
    assert log["duration_s"] == pytest.approx(len(audio) / 8000, abs=0.1)
    assert not any(ch.isdigit() for ch in "".join(log["answers"]))  # no number in it


@pytest.mark.parametrize(("policy", "turns", "outcome", "kept"), [
    ("all", [], Outcome.VOICEMAIL, True), ("none", [Decision.ACCEPTED], Outcome.COMPLETED, False),
    ("failed", [Decision.ACCEPTED], Outcome.COMPLETED, False),
    ("failed", [Decision.ACCEPTED, Decision.REPROMPTED], Outcome.COMPLETED, True),
    ("failed", [Decision.DENIED], Outcome.PARTIAL, True),
    ("failed", [], Outcome.DROPPED, True)])
def test_recording_policies(policy: str, turns: list[Decision], outcome: Outcome,
                            kept: bool) -> None:
    assert keeps(policy, "c:1:1", outcome, turns) is kept or policy == "none"
    shares = [keeps("sample:10", f"c:{i}:1", outcome, turns) for i in range(2000)]
    assert 0.07 < sum(shares) / 2000 < 0.13  # the same calls on every run: by attempt id
    assert shares == [keeps("sample:10", f"c:{i}:1", outcome, turns) for i in range(2000)]


# the store's side: files, retention, opt-outs -------------------------------------------
def _recorded_result(cid: int, attempt: int = 1, outcome: str = "completed") -> CallOutcome:
    audio = (RECORDINGS / "refused.flac").read_bytes()
    log = (RECORDINGS / "refused.json").read_text(encoding="utf-8")
    return CallOutcome(id=f"c:{cid}:{attempt}", contact_id=cid, attempt=attempt, started=START,
                       duration=18.0, outcome=outcome, risk="green",
                       answers=(("consent", "no", "speech"),), recording=audio, log=log)


class RecordingPool(FakePool):
    def outcome(self, job):  # type: ignore[no-untyped-def]
        return _recorded_result(job.contact_id, job.attempt)


def test_recordings_are_owner_only_listed_and_purged_by_retention(tmp_path: Path,
                                                                  capsys) -> None:  # type: ignore[no-untyped-def]
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone"], ["13800000001"], ["13800000002"]])
    db = tmp_path / "s.db"
    store = Store(db)
    load_list(store, listing, "c", start_at=START,
              settings=CampaignSettings(record="all", keep_days=2))
    asyncio.run(Dispatcher(store, store.campaign("c"), RunParams(lines=2),
                           RecordingPool(busy_odd=False)).run())
    files = sorted(Path(f"{db}.recordings/c").iterdir())
    assert [f.name for f in files] == ["c-1-1.flac", "c-1-1.json", "c-2-1.flac", "c-2-1.json"]
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert stat.S_IMODE(Path(f"{db}.recordings").stat().st_mode) == 0o700
    assert main(["calls", "c", "--db", str(db), "--decision", "denied", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["phone"] for r in listed] == ["+86138****0001", "+86138****0002"]
    assert purge_expired(store, time.time() + 86400).removed == 0  # a day: kept
    assert purge_expired(store, time.time() + 3 * 86400).removed == 2
    assert list(Path(f"{db}.recordings/c").iterdir()) == []
    assert store.recordings_of("c") == []


def test_an_opt_out_purges_the_numbers_recordings_and_corpus_copies(tmp_path: Path) -> None:
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone"], ["13800000001"], ["13800000002"]])
    db = tmp_path / "s.db"
    store = Store(db)
    load_list(store, listing, "c", start_at=START, settings=CampaignSettings(record="all"))
    from dialer.recordings.files import save

    c = store.campaign("c")
    for cid in (1, 2):
        store.apply("c", _recorded_result(cid), c.settings)
        save(store, "c", _recorded_result(cid), c.settings)
    audio = Path(store.recordings_of("c")[0].audio)
    corpus = tmp_path / "corpus"
    assert main(["corpus", "add", str(audio), "--turn", "1", "--expected", "no", "--to",
                 str(corpus), "--db", str(db)]) == 0
    assert (corpus / "c-1-1-t1.wav").exists()
    assert "c-1-1-t1.wav,consent,no,synthetic" in (corpus / "manifest.csv").read_text()
    d = Dispatcher(store, store.campaign("c"), RunParams(lines=1), FakePool())
    d._apply(_recorded_result(1, 2, "opted_out"))  # the person asks never to be called
    assert not audio.exists() and not (corpus / "c-1-1-t1.wav").exists()
    assert "c-1-1-t1.wav" not in (corpus / "manifest.csv").read_text()
    assert [r.contact_id for r in store.recordings_of("c")] == [2]  # the other one stays
    assert sorted(os.listdir(f"{db}.recordings/c")) == ["c-2-1.flac", "c-2-1.json"]


# corpora -----------------------------------------------------------------------------------
def test_a_corpus_scores_right_wrong_and_rejected(tmp_path: Path, corpus_accuracy) -> None:  # type: ignore[no-untyped-def]
    from speech.tts import Synthesizer, Voice

    synth = Synthesizer()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    items = [("yes", "cough", "yes"), ("fourteen", "fever_days", "14"),
             ("no", "cough", "yes"),  # said no, labelled yes: scored wrong
             ("who is this", "cough", "reject"), ("stop calling me", "fever", "stop"),
             ("who is this", "fever", "yes")]  # nothing heard where yes was meant: rejected
    rows = ["file,question,expected,source,speaker"]
    for i, (text, q, expected) in enumerate(items):
        a = synth.speak(text, Voice("flite", "kal16"))
        soundfile.write(corpus / f"{i}.flac", a.samples, a.rate)  # any rate, FLAC or WAV
        rows.append(f"{i}.flac,{q},{expected},synthetic,kal16")
    (corpus / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = corpus_accuracy(corpus)
    # "yes" (0.76) is heard below CONFIDENT: confirm: auto reads it back; the "no" labelled
    # yes is heard surely (0.97), as it was said, so it counts as wrong and unread
    assert report.total.as_dict() == {"items": 6, "right": 4, "wrong": 1, "rejected": 1,
                                      "read_back": 1, "wrong_unread": 1}
    assert report.by_question["cough"].wrong == 1 and report.by_source["synthetic"].items == 6
    assert [r["verdict"] for r in report.rows] == ["right", "right", "wrong", "right", "right",
                                                   "unanswered"]
    assert main(["accuracy", "--corpus", str(corpus), "--json"]) == 0


def test_a_corpus_with_a_bad_manifest_says_where(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "manifest.csv").write_text("name,answer\nx.wav,yes\n", encoding="utf-8")
    assert main(["accuracy", "--corpus", str(tmp_path)]) == 2
    assert "line 1 must name the columns file,question,expected" in capsys.readouterr().err


def test_a_corpus_takes_no_label_that_cannot_be(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone"], ["13800000001"]])
    db = tmp_path / "s.db"
    store = Store(db)
    load_list(store, listing, "c", start_at=START, settings=CampaignSettings(record="all"))
    from dialer.recordings.files import save

    store.apply("c", _recorded_result(1), store.campaign("c").settings)
    save(store, "c", _recorded_result(1), store.campaign("c").settings)
    audio = Path(store.recordings_of("c")[0].audio)
    corpus = tmp_path / "corpus"
    add = ["corpus", "add", str(audio), "--turn", "1", "--to", str(corpus), "--db", str(db)]
    for bad in ("maybe", "12345", "nan", "../../x"):
        assert main([*add, "--expected", bad]) == 2, bad
        assert "is not an answer to consent" in capsys.readouterr().err
    assert main([*add, "--expected", "no", "--source", "real"]) == 2  # a synthetic callee
    assert main([*add, "--expected", "no"]) == 0
    assert main([*add, "--expected", "yes"]) == 2  # the same turn twice
    assert "in the corpus already" in capsys.readouterr().err
    assert stat.S_IMODE((corpus / "manifest.csv").stat().st_mode) == 0o600
    with (corpus / "manifest.csv").open("a") as f:
        f.write("c-1-1-t1.wav,consent,maybe,synthetic,\nc-1-1-t1.wav,consent,no,robot,\n")
    assert main(["accuracy", "--corpus", str(corpus), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["items"] == 1 and len(out["skipped"]) == 2
    assert main(["recognize", str(tmp_path / "missing.wav"), "--question", "fever"]) == 1
    assert "no such file" in capsys.readouterr().out
