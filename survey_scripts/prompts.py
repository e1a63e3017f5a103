"""Every text the robot can say, and what each is for: the opening, the questions as
asked (a keypad question says its keys), reprompts, read-backs, keypad offers, goodbyes.
The robot says them all at start (dialer/robot/robot.py); a simulated callee knows them
by their sound; the dialog builds its prompts from the same functions."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from survey_scripts.model import AnswerType, Question, Survey
from survey_scripts.numbers import number_phrases
from survey_scripts.phrases import spoken_value


class PromptKind(StrEnum):
    QUESTION = "question"
    REPROMPT = "reprompt"
    KEYPAD = "keypad"
    CONFIRM = "confirm"
    GOODBYE = "goodbye"


@dataclass(frozen=True)
class Said:
    """One text the robot can say, and what it is for."""

    kind: PromptKind
    text: str
    question_id: str | None = None
    value: str | None = None  # the value read back, in a confirmation
    keys: bool = False  # answered with keys only (a keypad question's prompts)
    implied_id: str | None = None  # a question whose answer this prompt says back first


def every_prompt(survey: Survey, notice: bool = False, implicit: bool = True) -> list[Said]:
    """Every text a dialog on `survey` can say, in a fixed order; with `notice`, the
    opening of a recorded call too; without `implicit`, not implicit_prompts()."""
    lang = survey.language
    first = survey.questions[0]
    out = [Said(PromptKind.QUESTION, opening(survey), first.id, keys=first.keys_only)]
    for q in survey.questions:
        asked, keys = question_text(q, survey), q.keys_only
        out += [Said(PromptKind.QUESTION, asked, q.id, keys=keys),
                Said(PromptKind.REPROMPT, f"{lang.reprompt} {asked}", q.id, keys=keys)]
        out += [Said(PromptKind.CONFIRM, confirm_text(q, said, survey), q.id, said, keys)
                for said in spoken_values(q, survey)]
        if not keys:
            out.append(Said(PromptKind.KEYPAD, keypad_text(q, survey), q.id))
    out += [Said(PromptKind.GOODBYE, t) for t in (lang.closing, lang.goodbye_refused,
                                                  lang.goodbye_opt_out)]
    if notice:  # last: adding it changes no earlier prompt's sound (the robot says them
        # all once, in this order, at start; see dialer/robot/robot.py)
        out.append(Said(PromptKind.QUESTION, opening(survey, notice=True), first.id))
    return (out + implicit_prompts(survey)) if implicit else out


def implicit_prompts(survey: Survey) -> list[Said]:
    """The questions as asked with the answer before them said back (implicit
    confirmation), and as asked again after a go-back; after every other prompt, so
    that adding them changed no other prompt's sound."""
    out: list[Said] = []
    for i, q in enumerate(survey.questions):
        if not confirms_implicitly(q, survey):
            continue
        for nxt in (n for n in may_follow(survey, i) if not n.keys_only):
            asked = question_text(nxt, survey)
            out += [Said(PromptKind.QUESTION, f"{implied_text(said, survey)} {asked}",
                         nxt.id, said, implied_id=q.id)
                    for said in spoken_values(q, survey)]
        out.append(Said(PromptKind.QUESTION, asked_again_text(q, survey), q.id))
    return out


IMPLICIT = True  # off: every unsure answer read back (bench/levers.py measures both)


def confirms_implicitly(q: Question, survey: Survey) -> bool:
    """Whether an unsure answer to `q` is said back with the next question rather than
    read back on its own: a spoken yes/no or choice answer after consent (consent ends
    the call when it is no) where the language has the words for it; numbers, the most
    confusable answers, and `confirm: always` questions are read back."""
    return IMPLICIT and survey.language.implicit and q is not survey.questions[0] \
        and not q.keys_only \
        and q.confirm != "always" and q.type in (AnswerType.YES_NO, AnswerType.CHOICE)


def may_follow(survey: Survey, i: int) -> list[Question]:
    """The questions that can come right after question `i`: the next ones up to the
    first without a condition (one with a condition may be skipped)."""
    out = []
    for q in survey.questions[i + 1:]:
        out.append(q)
        if not q.when:
            break
    return out


def implied_text(value: str, survey: Survey) -> str:
    """An answer said back before the next question: `value` as spoken_values says it."""
    return survey.language.implied.format(value=value)


def asked_again_text(q: Question, survey: Survey) -> str:
    return f"{survey.language.asked_again} {question_text(q, survey)}"


def opening(survey: Survey, notice: bool = False) -> str:
    """The first thing the robot says: the recording notice where the call is recorded,
    the greeting, the first question."""
    first, lang = survey.questions[0], survey.language
    opt_out = f" {lang.keypad_opt_out}" if lang.keypad_opt_out and first.keys_only else ""
    text = f"{survey.greeting}{opt_out} {question_text(first, survey)}"
    return f"{lang.recording_notice} {text}" if notice else text


def question_text(q: Question, survey: Survey) -> str:
    """A question as asked: a keypad question says which keys answer it."""
    return f"{q.prompt} {keypad_text(q, survey)}" if q.keys_only else q.prompt


def confirm_text(q: Question, value: str, survey: Survey) -> str:
    said = survey.language.confirm.format(value=value)
    return f"{said} {survey.language.keypad_yes_no}" if q.keys_only else said


def spoken_values(q: Question, survey: Survey) -> list[str]:
    lang = survey.language
    if q.type == AnswerType.YES_NO:
        values: list[str | float] = ["yes", "no"]
    elif q.type == AnswerType.CHOICE:
        values = list(q.options)
    else:
        values = list(number_phrases(q.minimum, q.maximum, q.decimals, lang.code).values())
    return [spoken_value(q, v, lang) for v in values]


def keypad_text(q: Question, survey: Survey) -> str:
    lang = survey.language
    if q.type == AnswerType.CHOICE:
        return lang.keypad_choice.format(options=", ".join(
            f"{k} {q.options[v][0]}" for k, v in q.keypad.items()))
    return lang.keypad_yes_no if q.type == AnswerType.YES_NO else lang.keypad_number
