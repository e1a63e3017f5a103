"""Simulated calls scored against the callees' hidden truth (reports only; the robot never sees it)."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from dialer.call import CallRecord, run_call
from dialer.callee import Callee
from dialer.persona import Persona, make_persona
from dialer.stack import Stack


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

    def as_dict(self) -> dict[str, Any]:
        return {**self.total.as_dict(), "calls": self.calls, "outcomes": dict(self.outcomes),
                "by_question": {k: v.as_dict() for k, v in self.by_question.items()},
                "by_voice": {k: v.as_dict() for k, v in self.by_voice.items()}}


def run_accuracy(stack: Stack, calls: int, seed: int) -> Report:
    report = Report()
    for i in range(calls):
        persona = make_persona(seed + i, stack.survey)
        record = asyncio.run(run_call(stack.robot, Callee(persona, stack.survey, stack.ear)))
        report.score(persona, record)
    return report
