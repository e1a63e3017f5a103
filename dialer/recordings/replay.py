"""Replay recorded calls through today's robot: what was decided then, and what is now.

Each recording's callee side goes again through the robot (endpointing, recognition
with the question's grammar, interpretation, the dialog's decision) on a
RecordedLine. Turns are compared in order: the same prompt and the same decision
(and meaning) is `same`, anything else `changed`. Once a turn's prompt differs
from the recording's, the conversation has left the recorded course: the replay
says so and stops comparing that call there, rather than guessing.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dialer.calllog import CallLog, LoggedTurn
from dialer.lines.recorded import RecordedLine
from dialer.robot.call import place_call
from dialer.robot.robot import Robot, build_robot
from dialer.robot.turn import TurnLog
from dialer.wire import EngineSpec
from speech.engines import check_words, choose
from survey_scripts import DEFAULT_SURVEY
from survey_scripts.errors import AudioError
from survey_scripts.loader import load_survey
from survey_scripts.model import Survey
from survey_scripts.phrases import every_phrase


@dataclass
class TurnPair:
    number: int
    then: dict[str, Any]
    now: dict[str, Any] | None

    @property
    def same(self) -> bool:
        return self.now is not None and all(self.then.get(k) == self.now.get(k)
                                            for k in ("question", "kind", "decision",
                                                      "interpreted"))


@dataclass
class CallReplay:
    recording: str
    pairs: list[TurnPair] = field(default_factory=list)
    left_course_at: int | None = None  # the turn whose prompt is not the recording's
    note: str = ""

    @property
    def changed(self) -> int:
        return sum(not p.same for p in self.pairs)


@dataclass
class Report:
    calls: list[CallReplay] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # recordings that could not be replayed

    @property
    def turns(self) -> int:
        return sum(len(c.pairs) for c in self.calls)

    @property
    def same(self) -> int:
        return sum(p.same for c in self.calls for p in c.pairs)

    @property
    def changed(self) -> int:
        return self.turns - self.same

    def as_dict(self) -> dict[str, Any]:
        return {"calls": len(self.calls), "turns": self.turns, "same": self.same,
                "changed": self.changed,
                "left_course": sum(c.left_course_at is not None for c in self.calls),
                "skipped": self.skipped,
                "recordings": [{"recording": c.recording, "changed": c.changed,
                                "left_course_at": c.left_course_at, "note": c.note,
                                "turns": [{"turn": p.number, "then": p.then, "now": p.now,
                                           "same": p.same} for p in c.pairs]}
                               for c in self.calls]}


def _then(t: LoggedTurn) -> dict[str, Any]:
    return {"question": t.prompt.question, "kind": t.prompt.kind, "decision": t.decision,
            "interpreted": t.interpreted, "transcript": t.transcript,
            "confidence": t.confidence}


def _now(t: TurnLog) -> dict[str, Any]:
    return {"question": t.prompt.question_id, "kind": t.prompt.kind.value,
            "decision": t.decision.value if t.decision else None, "interpreted": t.interpreted,
            "transcript": t.heard.transcript, "confidence": round(t.heard.confidence, 3)}


def replay_one(robot: Robot, audio: Path, log: CallLog) -> CallReplay:
    line = RecordedLine.from_log(audio, log)
    record = asyncio.run(place_call(robot, line, "", log.ext, notice=log.notice))
    out = CallReplay(str(audio))
    for i, then in enumerate(log.turns):
        now = record.turns[i] if i < len(record.turns) else None
        pair = TurnPair(i + 1, _then(then), _now(now) if now else None)
        if pair.now is None or (pair.now["question"], pair.now["kind"]) != (
                pair.then["question"], pair.then["kind"]):
            out.left_course_at = i + 1
            now_says = "ends the call" if now is None else \
                f"says {now.prompt.kind.value} {now.prompt.question_id}"
            out.note = (f"at turn {i + 1} the robot now {now_says} where the recording has "
                        f"{then.prompt.kind} {then.prompt.question}: the rest is "
                        "not compared")
            out.pairs.append(pair)
            break
        out.pairs.append(pair)
    if out.left_course_at is None and len(record.turns) > len(log.turns):
        out.left_course_at = len(log.turns) + 1
        out.note = "the robot now asks more than the recording answers: the rest is not compared"
    return out


def read_log(audio: Path) -> CallLog:
    """The log beside a recording, any format so far."""
    log_path = audio.with_suffix(".json")
    try:
        text = log_path.read_text(encoding="utf-8")
        json.loads(text)
    except (OSError, ValueError) as e:
        raise AudioError(f"{log_path}: the recording's log cannot be read ({e}); a recording"
                         " is a .flac with its .json beside it") from e
    return CallLog.from_json(text)  # ValueError: not a call log (the caller says so)


def replay_files(paths: list[Path], script: str | Path | None = None,
                 engine: str | None = None, survey: Survey | None = None,
                 spec: EngineSpec | None = None) -> Report:
    """Replay recordings (each a .flac with its .json log) through one robot."""
    survey = survey or load_survey(script or DEFAULT_SURVEY)
    spec = spec if spec and not engine else EngineSpec(*choose(
        engine, None, survey.language.code, survey.keys_only))
    robot = build_robot(survey, spec)
    check_words(robot.listener.recognizer, every_phrase(survey), f"survey {survey.name}")
    report = Report()
    for path in paths:
        path = path.with_suffix(".flac") if path.suffix == ".json" else path
        try:
            if not path.exists():
                raise AudioError(f"{path}: no such recording")
            report.calls.append(replay_one(robot, path, read_log(path)))
        except AudioError as e:  # one bad recording never stops the others
            report.skipped.append(str(e))
        except (KeyError, TypeError, ValueError, IndexError) as e:
            report.skipped.append(f"{path.with_suffix('.json')}: not a healthdial call log "
                                  f"(it lacks or mangles {e}); replay its call again, or "
                                  "remove it")
    return report


def describe(report: Report) -> str:
    """Turn by turn, what was decided then and now."""
    lines = []
    for c in report.calls:
        lines.append(f"{c.recording}: {len(c.pairs)} turns, {c.changed} changed")
        for p in c.pairs:
            then, now = p.then, p.now or {}
            mark = "same   " if p.same else "CHANGED"
            lines.append(f"  {p.number:2d}. {mark} [{then['kind']}:{then['question']}] then "
                         f"{then['decision']} ({then['interpreted']}, {then['transcript']!r}) "
                         f"now {now.get('decision')} ({now.get('interpreted')}, "
                         f"{now.get('transcript')!r})")
        if c.note:
            lines.append(f"  left the recorded course: {c.note}")
    lines += [f"skipped {why}" for why in report.skipped]
    lines.append(f"{len(report.calls)} calls, {report.turns} turns: {report.same} same, "
                 f"{report.changed} changed" + (f"; {len(report.skipped)} recordings could "
                                                "not be replayed" if report.skipped else ""))
    return "\n".join(lines)
