"""What passes between the dialog engine and the line, turn by turn: what to say and
listen for, what was heard, what was recorded and decided, and the call's result."""

from __future__ import annotations

from dataclasses import dataclass, field

from survey_scripts.prompts import PromptKind
from survey_scripts.vocabulary import Decision, Outcome


@dataclass(frozen=True)
class Listen:
    """What the line should listen for after a prompt: a grammar and keypad digits."""

    key: str
    phrases: tuple[str, ...]
    keypad: bool = True


@dataclass(frozen=True)
class Prompt:
    kind: PromptKind
    text: str
    question_id: str | None
    listen: Listen | None


@dataclass(frozen=True)
class Heard:
    """What the line made of the callee's turn, from audio alone."""

    transcript: str = ""
    confidence: float = 0.0
    digits: str = ""
    silent: bool = False
    hangup: bool = False
    guessed: bool = False  # the garbage loop took the speech; the transcript is a second guess


@dataclass
class Recorded:
    value: str | float | None
    how: str  # speech, confirmed, agreed, keypad, dont_know, unanswered
    confidence: float = 0.0


@dataclass(frozen=True)
class TurnDecision:
    """What was decided on one turn: for which question, after which prompt."""

    question_id: str | None
    kind: PromptKind
    decision: Decision
    interpreted: str | None = None  # what the turn was taken to mean: "answer: yes", ...


@dataclass
class Result:
    outcome: Outcome = Outcome.PARTIAL
    answers: dict[str, Recorded] = field(default_factory=dict)
    risk: str | None = None
    turns: int = 0
    rule_errors: list[str] = field(default_factory=list)  # rules that failed in this call
    decisions: list[TurnDecision] = field(default_factory=list)  # one per turn heard

    def values(self) -> dict[str, str | float | None]:
        return {k: r.value for k, r in self.answers.items()}
