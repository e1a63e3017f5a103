"""How sure the dialog must be of what it heard: the thresholds on the recognizer's
confidence (a calibrated probability: speech/confidence.py), and how two hearings of
one answer add up."""

from __future__ import annotations

from survey_scripts.phrases import Intent, Meaning, interpret
from survey_scripts.turns import Heard

CONFIDENT = 0.9  # at or above: an answer is recorded as heard (confirm: auto)
UNSURE = 0.3  # below: not taken at all, the question is asked again; between: read back
# A second guess (what the bare grammar heard in speech the garbage loop took) is read
# back only when more likely right than not: at UNSURE, real off-topic speech was
# taken more often than before the second pass (measured: CHANGELOG, issue 13).
GUESS_FLOOR = 0.5

__all__ = ["CONFIDENT", "GUESS_FLOOR", "UNSURE", "agreed", "settles", "understood"]


def understood(heard: Heard, table: dict[str, Meaning], fillers: tuple[str, ...]) -> Meaning:
    """What a turn's speech means to the dialog: nothing, if heard too unsurely."""
    if heard.confidence < (GUESS_FLOOR if heard.guessed else UNSURE):
        return Meaning(Intent.NOMATCH)
    return interpret(heard.transcript, table, fillers)


def settles(intent: Intent, confidence: float) -> bool:
    """Whether the dialog acts on what it understood without reading it back (confirm:
    auto): "stop" always, an answer or "don't know" (which ends the question
    unanswered) only from CONFIDENT; "repeat" records nothing."""
    if intent == Intent.STOP:
        return True
    return intent in (Intent.ANSWER, Intent.DONT_KNOW) and confidence >= CONFIDENT


def agreed(before: tuple[str, float] | None, value: str, confidence: float) -> float | None:
    """Two unsure hearings of the same answer, the read-back between them not understood:
    their joint probability (as independent evidence, against even odds) if it reaches
    CONFIDENT, else None. A read-back the callee denied leaves nothing to agree with."""
    if before is None or before[0] != value or min(before[1], confidence) < UNSURE:
        return None
    odds = before[1] / (1 - before[1]) * confidence / max(1e-9, 1 - confidence)
    both = odds / (1 + odds)
    return both if both >= CONFIDENT else None
