"""One way to score what was recorded against what was meant, for every accuracy figure.

Simulated calls (`healthdial accuracy --calls`, the demo) and labelled recordings
(`accuracy --corpus`) are scored here alike: an answer is right when the value
recorded is the one meant (numbers compared as numbers), wrong when another
value was recorded, and unanswered when none was (no answer, "don't know", or
speech rejected).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    RIGHT = "right"
    WRONG = "wrong"
    UNANSWERED = "unanswered"


def _number(v: object) -> float | None:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def verdict(recorded: object, meant: object) -> Verdict:
    if recorded is None:
        return Verdict.UNANSWERED
    a, b = _number(recorded), _number(meant)
    same = a == b if a is not None and b is not None else str(recorded) == str(meant)
    return Verdict.RIGHT if same else Verdict.WRONG


@dataclass
class Tally:
    asked: int = 0
    correct: int = 0
    wrong: int = 0
    unanswered: int = 0

    def add(self, v: Verdict) -> None:
        self.asked += 1
        if v == Verdict.RIGHT:
            self.correct += 1
        elif v == Verdict.WRONG:
            self.wrong += 1
        else:
            self.unanswered += 1

    def merge(self, other: Tally) -> None:
        self.asked += other.asked
        self.correct += other.correct
        self.wrong += other.wrong
        self.unanswered += other.unanswered

    def as_dict(self) -> dict[str, int]:
        return {"asked": self.asked, "correct": self.correct, "wrong": self.wrong,
                "unanswered": self.unanswered}


INTENTS = ("repeat", "dont_know", "stop")


def corpus_verdict(heard: object, expected: str) -> Verdict:
    """A corpus item: `heard` is what would be recorded (or the intent), None if nothing.
    `reject` is right when nothing was heard; anything else must be heard as it is."""
    if expected == "reject":
        return Verdict.RIGHT if heard is None else Verdict.WRONG
    return verdict(heard, expected)
