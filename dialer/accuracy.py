"""Simulated calls scored against the callees' hidden truth.

Only reports read the truth; the robot never does.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from dialer.call import CallRecord, run_call
from dialer.callee import Callee
from dialer.persona import Persona, make_persona
from dialer.stack import DEFAULT_SCRIPT, Stack, build_stack
from dialer.wire import EngineSpec
from survey_scripts.loader import load_survey


@dataclass
class Tally:
    asked: int = 0
    correct: int = 0
    wrong: int = 0
    unanswered: int = 0

    def add(self, recorded: Any, truth: Any, how: str) -> None:
        self.asked += 1
        if how in ("unanswered", "dont_know"):
            self.unanswered += 1
        elif recorded == truth:
            self.correct += 1
        else:
            self.wrong += 1

    def merge(self, other: Tally) -> None:
        self.asked += other.asked
        self.correct += other.correct
        self.wrong += other.wrong
        self.unanswered += other.unanswered

    def as_dict(self) -> dict[str, int]:
        return {"asked": self.asked, "correct": self.correct, "wrong": self.wrong,
                "unanswered": self.unanswered}


@dataclass
class Report:
    total: Tally = field(default_factory=Tally)
    by_question: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_voice: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    outcomes: Counter[str] = field(default_factory=Counter)
    calls: int = 0

    def score(self, persona: Persona, record: CallRecord) -> None:
        self.calls += 1
        self.outcomes[record.result.outcome.value] += 1
        for qid, rec in record.result.answers.items():
            truth = persona.truth.get(qid)
            for t in (self.total, self.by_question[qid], self.by_voice[str(persona.voice)]):
                t.add(rec.value, truth, rec.how)

    def merge(self, other: Report) -> None:
        self.calls += other.calls
        self.outcomes.update(other.outcomes)
        self.total.merge(other.total)
        for mine, theirs in ((self.by_question, other.by_question),
                             (self.by_voice, other.by_voice)):
            for k, t in theirs.items():
                mine[k].merge(t)

    def as_dict(self) -> dict[str, Any]:
        return {**self.total.as_dict(), "calls": self.calls, "outcomes": dict(self.outcomes),
                "by_question": {k: v.as_dict() for k, v in self.by_question.items()},
                "by_voice": {k: v.as_dict() for k, v in self.by_voice.items()}}


def _score_calls(stack: Stack, seeds: range) -> Report:
    report = Report()
    for seed in seeds:
        persona = make_persona(seed, stack.survey)
        record = asyncio.run(run_call(stack.robot, Callee(persona, stack.survey, stack.ear)))
        report.score(persona, record)
    return report


def _worker(script: str | None, engine: EngineSpec, seeds: range) -> Report:
    return _score_calls(build_stack(load_survey(script or DEFAULT_SCRIPT), engine), seeds)


def run_accuracy(script: str | None, engine: EngineSpec, calls: int, seed: int,
                 processes: int = 1) -> Report:
    """Score `calls` calls; with several processes, each loads its own models once."""
    if processes <= 1:
        return _worker(script, engine, range(seed, seed + calls))
    chunks = [range(seed + i, seed + calls, processes) for i in range(processes)]
    total = Report()
    # spawn: a forked child would inherit espeak-ng's state without its thread, and hang
    with ProcessPoolExecutor(processes, mp_context=mp.get_context("spawn")) as pool:
        for part in pool.map(_worker, [script] * processes, [engine] * processes, chunks):
            total.merge(part)
    return total
