"""Labelled recordings from anywhere, heard as the robot hears a phone line, and scored.

A corpus is a folder with `manifest.csv`: columns `file,question,expected` and
optionally `source` (real or synthetic) and `speaker`. `file` is relative to the
folder: WAV or FLAC at any rate, mono, or stereo in healthdial's own recording
layout (robot left, callee right: only the callee is heard). `expected` is what
would be recorded: yes/no, a number, a choice id, or an intent (repeat,
dont_know, stop), or `reject` for speech that answers nothing. Each file goes
through the 8 kHz mu-law line, the endpointer and the question's grammar, as in a
call. Real and synthetic speech are always reported apart.
"""

from __future__ import annotations

import csv
import math
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from dialer.recordings import scoring
from dialer.recordings.scoring import Verdict, corpus_verdict
from dialer.wire import EngineSpec
from speech.audio import Audio
from speech.channel import RATE, from_line, to_line
from speech.engines import choose, make_recognizer
from speech.listener import Listener
from speech.recognizer import Grammar
from survey_scripts import DEFAULT_SURVEY
from survey_scripts.certainty import settles, understood
from survey_scripts.errors import AudioError, UsageError
from survey_scripts.loader import load_survey
from survey_scripts.model import AnswerType, Question, Survey
from survey_scripts.phrases import Intent, answer_phrases, keypad_value

COLUMNS = ("file", "question", "expected", "source", "speaker")
PAD_S = 0.5  # silence put either side of an item, as a line has around an answer
_INTENTS = {i.value for i in Intent}


@dataclass
class Tally(scoring.Tally):
    """The calls' tally, in a corpus's words (items, right, rejected), and what the
    dialog would do with each answer under confirm: auto."""

    read_back: int = 0  # answers the dialog would read back before recording
    wrong_unread: int = 0  # wrong answers (or a wrong "stop") it would act on unasked

    @property
    def items(self) -> int:
        return self.asked

    @property
    def right(self) -> int:
        return self.correct

    @property
    def rejected(self) -> int:
        return self.unanswered

    def add(self, v: Verdict, read_back: bool = False, acts: bool = False) -> None:
        super().add(v)
        self.read_back += read_back
        self.wrong_unread += v == Verdict.WRONG and acts

    def as_dict(self) -> dict[str, int]:
        return {"items": self.items, "right": self.right, "wrong": self.wrong,
                "rejected": self.rejected, "read_back": self.read_back,
                "wrong_unread": self.wrong_unread}


@dataclass
class Report:
    total: Tally = field(default_factory=Tally)
    by_question: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_source: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # manifest rows that cannot be scored

    def as_dict(self) -> dict[str, Any]:
        return {**self.total.as_dict(), "skipped": self.skipped,
                "by_question": {k: v.as_dict() for k, v in sorted(self.by_question.items())},
                "by_source": {k: v.as_dict() for k, v in sorted(self.by_source.items())},
                "rows": self.rows}


MAX_AUDIO_BYTES = 100 * 2**20  # an answer is seconds long; a bigger file is a mistake


def read_callee(path: Path) -> Audio:
    """An item's audio: mono, or the callee's channel of a healthdial recording."""
    try:
        size = path.stat().st_size
    except FileNotFoundError as e:
        raise AudioError(f"{path}: no such file") from e
    if path.is_dir():
        raise AudioError(f"{path}: is a folder; give the audio files in it")
    if size > MAX_AUDIO_BYTES:
        raise AudioError(f"{path}: {size / 2**20:.0f} MB; an answer is seconds of audio (at "
                         f"most {MAX_AUDIO_BYTES // 2**20} MB): cut it")
    try:
        data, rate = soundfile.read(str(path), dtype="int16", always_2d=True)
    except FileNotFoundError as e:
        raise AudioError(f"{path}: no such file") from e
    except (RuntimeError, soundfile.LibsndfileError) as e:
        raise AudioError(f"{path}: not a readable WAV or FLAC file ({e})") from e
    if data.shape[1] > 2:
        raise AudioError(f"{path}: {data.shape[1]} channels; use mono, or healthdial's stereo")
    return Audio(np.ascontiguousarray(data[:, -1]), int(rate))


def manifest(folder: Path) -> list[dict[str, str]]:
    path = folder / "manifest.csv"
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise UsageError(f"{path}: cannot read the corpus manifest ({e.strerror}); a corpus "
                         "is a folder with manifest.csv (file,question,expected)") from e
    if not rows or not {"file", "question", "expected"} <= set(rows[0]):
        raise UsageError(f"{path}: line 1 must name the columns file,question,expected "
                         "(and may add source, speaker)")
    return rows


def hear(listener: Listener, survey: Survey, qid: str, audio: Audio) -> tuple[Any, str, float]:
    """(what would be recorded or the intent heard, None if nothing; transcript; confidence)"""
    q = survey.question(qid)
    table = answer_phrases(q, survey.language)
    pad = np.zeros(int(PAD_S * RATE), dtype=np.int16)
    line = from_line(to_line(audio))  # as a phone line carries it
    turn = listener.listen(np.concatenate([pad, line.samples, pad, pad, pad]),
                           Grammar(q.id, tuple(table), survey.language.fillers))
    heard = turn.heard
    if heard.digits:
        return keypad_value(q, heard.digits), f"keypad {heard.digits}", 1.0
    meaning = understood(heard, table, survey.language.fillers)
    if meaning.intent == Intent.ANSWER:
        return meaning.value, heard.transcript, heard.confidence
    if meaning.intent == Intent.NOMATCH:
        return None, heard.transcript, heard.confidence
    return meaning.intent.value, heard.transcript, heard.confidence


def _under_auto(heard: Any, conf: float) -> tuple[bool, bool]:
    """What the dialog does with what was heard under confirm: auto: (reads it back,
    acts on it unasked)."""
    if heard is None:
        return False, False
    intent = Intent(heard) if heard in _INTENTS else Intent.ANSWER
    acts = settles(intent, conf)
    return intent == Intent.ANSWER and not acts, acts


def score_corpus(folder: Path, script: str | Path | None = None, engine: str | None = None,
                 spec: EngineSpec | None = None) -> Report:
    survey = load_survey(script or DEFAULT_SURVEY)
    spec = spec or EngineSpec(*choose(engine, None, survey.language.code, survey.keys_only))
    listener = Listener(make_recognizer(spec))
    ids = {q.id for q in survey.questions}
    report = Report()
    for i, row in enumerate(manifest(folder), start=2):
        qid, expected = row["question"].strip(), row["expected"].strip()
        if qid not in ids:
            raise UsageError(f"{folder / 'manifest.csv'}: line {i}: no question {qid!r} in "
                             f"{survey.path}")
        source = (row.get("source") or "unknown").strip()
        problem = label_problem(survey.question(qid), expected) or (
            None if source in (*SOURCES, "unknown") else
            f"source {source[:20]!r} is neither real nor synthetic")
        if problem:  # a label that cannot be is not counted, and said
            report.skipped.append(f"line {i}: {problem}")
            continue
        heard, transcript, conf = hear(listener, survey, qid,
                                       read_callee(folder / row["file"]).resampled(RATE))
        v = corpus_verdict(heard, expected)
        unsure, acts = _under_auto(heard, conf)
        for t in (report.total, report.by_question[qid], report.by_source[source]):
            t.add(v, unsure, acts)
        report.rows.append({"file": row["file"], "question": qid, "expected": expected,
                            "heard": heard, "transcript": transcript,
                            "confidence": round(conf, 3), "verdict": v.value, "source": source,
                            "speaker": row.get("speaker", "")})
    return report


SOURCES = ("real", "synthetic")


def label_problem(q: Question, expected: str) -> str | None:
    """Why `expected` cannot be what a person said to question `q`, or None: an answer
    the question takes, an intent (repeat, dont_know, stop...) or `reject`."""
    if expected == "reject" or expected in _INTENTS:
        return None
    if q.type == AnswerType.YES_NO:
        ok = expected in ("yes", "no")
    elif q.type == AnswerType.CHOICE:
        ok = expected in q.options
    else:
        try:
            value = float(expected)
        except ValueError:
            value = math.nan
        ok = math.isfinite(value) and q.minimum <= value <= q.maximum and (
            q.decimals or value.is_integer())
    if ok:
        return None
    takes = ("yes, no" if q.type == AnswerType.YES_NO else ", ".join(q.options)
             if q.type == AnswerType.CHOICE else f"a number from {q.minimum:g} to {q.maximum:g}")
    return (f"expected {expected[:40]!r} is not an answer to {q.id} (it takes {takes}, an "
            f"intent such as {', '.join(sorted(_INTENTS))}, or reject)")


def add_item(folder: Path, audio: Audio, name: str, question: str, expected: str,
             source: str, speaker: str = "") -> Path:
    """A WAV and its manifest row (owner-only: it holds answers per contact); the
    manifest is made if missing; a turn already in the corpus is refused."""
    from speech.audio import write_wav

    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{name}.wav"
    listed = folder / "manifest.csv"
    new = not listed.exists()
    if not new and any(r.get("file") == path.name for r in manifest(folder)):
        raise UsageError(f"{listed}: {path.name} is in the corpus already; remove its row "
                         "first to label it again")
    write_wav(path, audio)
    os.chmod(path, 0o600)
    os.close(os.open(listed, os.O_CREAT | os.O_WRONLY, 0o600))
    os.chmod(listed, 0o600)
    with listed.open("a", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        if new:
            w.writerow(COLUMNS)
        w.writerow([path.name, question, expected, source, speaker])
    return path
