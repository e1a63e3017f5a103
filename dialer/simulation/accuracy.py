"""Simulated calls scored against the callees' hidden truth (synthetic voices only).

Only this report reads the truth; the robot never does. Each call is a person
answering at once on a simulated line: the survey, turn by turn, as in a
campaign (full duplex: early answers and echo, unless `duplex` is off).
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from dialer.lines.simulated import build_simulation
from dialer.lines.simulated.line import SimulatedLine, Simulation
from dialer.lines.simulated.persona import Persona, make_persona
from dialer.recordings.scoring import Tally, verdict
from dialer.robot.call import CallRecord, run_survey
from dialer.robot.robot import Robot, build_robot
from dialer.wire import EngineSpec
from survey_scripts import DEFAULT_SURVEY
from survey_scripts.loader import load_survey
from survey_scripts.model import Survey


@dataclass
class Report:
    total: Tally = field(default_factory=Tally)
    by_question: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_voice: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    outcomes: Counter[str] = field(default_factory=Counter)
    decisions: Counter[str] = field(default_factory=Counter)
    barged_in: int = 0  # turns whose prompt the callee's answer cut short
    answered_early: int = 0  # turns answered before the prompt ended
    calls: int = 0

    def score(self, persona: Persona, record: CallRecord) -> None:
        self.calls += 1
        self.outcomes[record.result.outcome.value] += 1
        self.decisions.update(t.decision.value for t in record.turns if t.decision)
        self.barged_in += sum(t.barged_in for t in record.turns)
        self.answered_early += sum(t.answered_early for t in record.turns)
        for qid, rec in record.result.answers.items():
            v = verdict(rec.value, persona.truth.get(qid))
            for t in (self.total, self.by_question[qid], self.by_voice[str(persona.voice)]):
                t.add(v)

    def merge(self, other: Report) -> None:
        self.calls += other.calls
        self.barged_in += other.barged_in
        self.answered_early += other.answered_early
        self.outcomes.update(other.outcomes)
        self.decisions.update(other.decisions)
        self.total.merge(other.total)
        for mine, theirs in ((self.by_question, other.by_question),
                             (self.by_voice, other.by_voice)):
            for k, t in theirs.items():
                mine[k].merge(t)

    def as_dict(self) -> dict[str, Any]:
        return {**self.total.as_dict(), "calls": self.calls, "outcomes": dict(self.outcomes),
                "decisions": dict(self.decisions), "barged_in": self.barged_in,
                "answered_early": self.answered_early,
                "by_question": {k: v.as_dict() for k, v in self.by_question.items()},
                "by_voice": {k: v.as_dict() for k, v in self.by_voice.items()}}


def score_calls(robot: Robot, sim: Simulation, seeds: range) -> Report:
    report = Report()
    for seed in seeds:
        persona = make_persona(seed, robot.survey)
        record = asyncio.run(run_survey(robot, SimulatedLine.with_person(sim, persona)))
        report.score(persona, record)
    return report


def _worker(survey: Survey, engine: EngineSpec, seeds: range, duplex: bool) -> Report:
    robot = build_robot(survey, engine)
    return score_calls(robot, build_simulation(survey, engine.engine, robot.synth, robot.prompts(),
                                               duplex), seeds)


def run_accuracy(survey: Survey | None, engine: EngineSpec, calls: int, seed: int,
                 processes: int = 1, duplex: bool = True) -> Report:
    """Score `calls` calls; with several processes, each loads its own models once."""
    survey = survey or load_survey(DEFAULT_SURVEY)
    if processes <= 1:
        return _worker(survey, engine, range(seed, seed + calls), duplex)
    chunks = [range(seed + i, seed + calls, processes) for i in range(processes)]
    total = Report()
    # spawn: a forked child would inherit espeak-ng's state without its thread, and hang
    with ProcessPoolExecutor(processes, mp_context=mp.get_context("spawn")) as pool:
        for part in pool.map(_worker, [survey] * processes, [engine] * processes, chunks,
                             [duplex] * processes):
            total.merge(part)
    return total
