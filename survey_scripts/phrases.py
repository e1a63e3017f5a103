"""What can answer a question: every phrase it accepts and what each phrase means.

The same table serves the recognizer (its grammar) and the dialog engine (its
interpretation), so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from survey_scripts.model import AnswerType, Language, Question, Survey
from survey_scripts.numbers import number_phrases, to_words


class Intent(StrEnum):
    ANSWER = "answer"
    REPEAT = "repeat"
    DONT_KNOW = "dont_know"
    STOP = "stop"
    GO_BACK = "go_back"  # the answer said back with this question was wrong
    NOMATCH = "nomatch"


@dataclass(frozen=True)
class Meaning:
    intent: Intent
    value: str | float | None = None


def intent_phrases(lang: Language) -> dict[str, Meaning]:
    """The universal intents, accepted on every question."""
    out: dict[str, Meaning] = {}
    for words, intent in ((lang.repeat, Intent.REPEAT), (lang.dont_know, Intent.DONT_KNOW),
                          (lang.stop, Intent.STOP)):
        out.update({w: Meaning(intent) for w in words})
    return out


def yes_no_phrases(lang: Language) -> dict[str, Meaning]:
    return {w: Meaning(Intent.ANSWER, "yes") for w in lang.yes} | {
        w: Meaning(Intent.ANSWER, "no") for w in lang.no}


@lru_cache(maxsize=256)
def answer_phrases(q: Question, lang: Language) -> dict[str, Meaning]:
    """Every phrase that answers `q`, plus the universal intents."""
    out = intent_phrases(lang)
    if q.type == AnswerType.YES_NO:
        out |= yes_no_phrases(lang)
    elif q.type == AnswerType.NUMBER:
        for text, v in number_phrases(q.minimum, q.maximum, q.decimals, lang.code).items():
            out[text] = Meaning(Intent.ANSWER, v)
            if q.unit:
                out[f"{text} {q.unit}"] = Meaning(Intent.ANSWER, v)
    else:
        for key, synonyms in q.options.items():
            out.update({s: Meaning(Intent.ANSWER, key) for s in synonyms})
    return out


def go_back_phrases(lang: Language) -> dict[str, Meaning]:
    """Accepted on a question that says the previous answer back (implicit confirmation)."""
    return {w: Meaning(Intent.GO_BACK) for w in lang.go_back}


def confirm_phrases(lang: Language) -> dict[str, Meaning]:
    return intent_phrases(lang) | yes_no_phrases(lang)


def every_phrase(survey: Survey) -> list[str]:
    """Every phrase any of the dialog's grammars listens for: what the recognizer must know."""
    lang = survey.language
    out = [*confirm_phrases(lang), *lang.fillers, *lang.go_back]
    for q in survey.questions:
        out += list(answer_phrases(q, lang))
    return out


def interpret(transcript: str, table: dict[str, Meaning], fillers: tuple[str, ...]) -> Meaning:
    """Map a recognized transcript to its meaning; fillers ("um") are ignored."""
    words = [w for w in transcript.lower().split() if w not in fillers]
    return table.get(" ".join(words), Meaning(Intent.NOMATCH))


def spoken_value(q: Question, value: str | float, lang: Language) -> str:
    """How the robot reads a value back in a confirmation."""
    if q.type == AnswerType.NUMBER:
        text = to_words(float(value), lang.code)
        return f"{text} {q.unit}".strip()
    if q.type == AnswerType.YES_NO:
        return lang.yes[0] if value == "yes" else lang.no[0]
    return q.options[str(value)][0]


def keypad_value(q: Question, digits: str) -> str | float | None:
    """Interpret keypad digits: 1 yes / 2 no; a number with * as the decimal point; an option."""
    digits = digits.rstrip("#")
    if not digits:
        return None
    if q.type == AnswerType.YES_NO:
        return {"1": "yes", "2": "no"}.get(digits)
    if q.type == AnswerType.CHOICE:
        return q.keypad.get(digits)
    try:
        v = float(digits.replace("*", "."))
    except ValueError:
        return None
    return v if q.minimum <= v <= q.maximum else None
