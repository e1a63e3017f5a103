"""The dialog engine: a pure state machine that yields what to say and receives what was heard.

Drive it like httpx's auth_flow:

    flow = Dialog(survey).run()
    prompt = next(flow)
    while True:
        heard = <play prompt, listen>          # the line does the audio
        try:
            prompt = flow.send(heard)
        except StopIteration as stop:
            result = stop.value
            break
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

from survey_scripts.certainty import CONFIDENT, GUESS_FLOOR, UNSURE, agreed, settles
from survey_scripts.errors import RuleError
from survey_scripts.model import OPT_OUT_KEY, Question, Survey
from survey_scripts.phrases import (
    Intent,
    Meaning,
    answer_phrases,
    confirm_phrases,
    interpret,
    keypad_value,
    spoken_value,
)
from survey_scripts.prompts import (
    PromptKind,
    confirm_text,
    keypad_text,
    opening,
    question_text,
)
from survey_scripts.rules import evaluate, names_in
from survey_scripts.vocabulary import Decision, Outcome

MAX_REPROMPTS = 2
MAX_REPEATS = 3
UNKNOWN_RISK = "unknown"  # a risk rule failed in the call: the answers are kept, staff decide


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


def understood(heard: Heard, table: dict[str, Meaning], fillers: tuple[str, ...]) -> Meaning:
    """What a turn's speech means to the dialog: nothing, if heard too unsurely."""
    if heard.confidence < (GUESS_FLOOR if heard.guessed else UNSURE):
        return Meaning(Intent.NOMATCH)
    return interpret(heard.transcript, table, fillers)


def every_phrase(survey: Survey) -> list[str]:
    """Every phrase any of the dialog's grammars listens for: what the recognizer must know."""
    lang = survey.language
    out = [*confirm_phrases(lang), *lang.fillers]
    for q in survey.questions:
        out += list(answer_phrases(q, lang))
    return out


class _Hangup(Exception):
    pass


class _OptOut(Exception):
    pass


class Dialog:
    """One survey conversation. No audio, no I/O: testable with plain Heard objects."""

    def __init__(self, survey: Survey, notice: bool = False) -> None:
        """`notice`: the call is recorded, and the robot says so first."""
        self.survey = survey
        self.notice = notice
        self.lang = survey.language
        self.result = Result()
        self._prompt = Prompt(PromptKind.QUESTION, "", None, None)
        self._heard = Heard()
        self._meaning = Meaning(Intent.NOMATCH)

    def run(self) -> Generator[Prompt, Heard, Result]:
        r = self.result
        try:
            yield from self._survey()
        except _Hangup:
            r.outcome = Outcome.OPTED_OUT if r.outcome == Outcome.OPTED_OUT else Outcome.PARTIAL
        except _OptOut:
            r.outcome = Outcome.OPTED_OUT
            yield self._goodbye(self.lang.goodbye_opt_out)
        consented = r.answers.get(self.survey.questions[0].id)
        if r.outcome in (Outcome.COMPLETED, Outcome.PARTIAL) and consented is not None \
                and consented.value == "yes":
            r.risk = self._risk()
        return r

    def _survey(self) -> Generator[Prompt, Heard, None]:
        r = self.result
        first, *rest = self.survey.questions
        consent = yield from self._ask(first, opening(self.survey, self.notice))
        r.answers[first.id] = consent
        if consent.value != "yes":
            # only a "no" is a refusal; no answer at all (a silent line, a machine taken
            # for a person) is a call to try again
            r.outcome = Outcome.REFUSED if consent.value == "no" else Outcome.PARTIAL
            yield self._goodbye(self.lang.goodbye_refused)
            return
        for q in rest:
            if q.when and not self._holds(q.when, f"question '{q.id}': when"):
                continue
            r.answers[q.id] = yield from self._ask(q, question_text(q, self.survey))
        r.outcome = Outcome.COMPLETED
        yield self._goodbye(self.lang.closing)

    def _known(self) -> dict[str, str | float | None]:
        return {q.id: None for q in self.survey.questions} | self.result.values()

    def _goodbye(self, text: str) -> Prompt:
        return Prompt(PromptKind.GOODBYE, text, None, None)

    def _hear(self, prompt: Prompt) -> Generator[Prompt, Heard, Heard]:
        heard = yield prompt
        self.result.turns += 1
        self._prompt, self._heard = prompt, heard
        self._meaning = Meaning(Intent.NOMATCH)
        if heard.hangup:
            self._decide(Decision.HUNG_UP)
            raise _Hangup
        return heard

    def _understood(self, heard: Heard, table: dict[str, Meaning]) -> Meaning:
        self._meaning = understood(heard, table, self.lang.fillers)
        return self._meaning

    def _decide(self, decision: Decision, meaning: Meaning | str | None = None) -> None:
        p = self._prompt
        said = meaning if isinstance(meaning, str) or meaning is None else (
            f"answer: {meaning.value}" if meaning.intent == Intent.ANSWER else meaning.intent.value)
        self.result.decisions.append(TurnDecision(p.question_id, p.kind, decision, said))

    def _ask(self, q: Question, text: str) -> Generator[Prompt, Heard, Recorded]:
        """Ask until answered: reprompts, repeats, confirmation, then the keypad."""
        if q.keys_only:
            return (yield from self._ask_keys(q, text))
        table = answer_phrases(q, self.lang)
        listen = Listen(q.id, tuple(table), keypad=True)
        prompt = Prompt(PromptKind.QUESTION, text, q.id, listen)
        failures = repeats = 0
        unconfirmed: tuple[str, float] | None = None  # read back, its reply not understood
        while failures <= MAX_REPROMPTS:
            heard = yield from self._hear(prompt)
            if heard.digits:
                value = keypad_value(q, heard.digits)
                if value is not None:
                    self._decide(Decision.KEYED, f"keypad: {value}")
                    return Recorded(value, "keypad", 1.0)
            meaning = self._understood(heard, table)
            if meaning.intent == Intent.STOP:
                self._decide(Decision.OPTED_OUT, meaning)
                raise _OptOut
            # "don't know" heard unsurely: the question is asked again
            if meaning.intent == Intent.DONT_KNOW and settles(meaning.intent, heard.confidence):
                self._decide(Decision.DONT_KNOW, meaning)
                return Recorded(None, "dont_know", heard.confidence)
            if meaning.intent == Intent.REPEAT and repeats < MAX_REPEATS:
                self._decide(Decision.REPEATED, meaning)
                repeats += 1
                prompt = Prompt(PromptKind.QUESTION, q.prompt, q.id, listen)
                continue
            if meaning.intent == Intent.ANSWER:
                if q.confirm != "always":
                    if settles(meaning.intent, heard.confidence):
                        self._decide(Decision.ACCEPTED, meaning)
                        return Recorded(meaning.value, "speech", heard.confidence)
                    both = agreed(unconfirmed, str(meaning.value), heard.confidence)
                    if both is not None:
                        self._decide(Decision.AGREED, meaning)
                        return Recorded(meaning.value, "agreed", both)
                self._decide(Decision.CONFIRMING, meaning)
                confirmed = yield from self._confirm(q, meaning)
                if confirmed:
                    return Recorded(meaning.value, "confirmed", heard.confidence)
                unconfirmed = (str(meaning.value), heard.confidence) if confirmed is None \
                    else None
            failures += 1
            if failures <= MAX_REPROMPTS:
                self._decide_unless_denied(Decision.REPROMPTED)
            else:
                self._decide_unless_denied(Decision.KEYPAD)
            prompt = Prompt(PromptKind.REPROMPT, f"{self.lang.reprompt} {q.prompt}", q.id, listen)
        return (yield from self._keypad(q, listen))

    def _ask_keys(self, q: Question, text: str) -> Generator[Prompt, Heard, Recorded]:
        """A keypad question: keys only (no recognizer is asked), the same reprompts, a
        read-back answered with keys where the question asks one, OPT_OUT_KEY to opt out.
        Speech is not understood: it is a turn without keys, reprompted."""
        listen = Listen(q.id, (), keypad=True)
        prompt = Prompt(PromptKind.QUESTION, text, q.id, listen)
        for tries in range(MAX_REPROMPTS + 1):
            heard = yield from self._hear(prompt)
            keys = heard.digits.rstrip("#")
            if keys == OPT_OUT_KEY and keypad_value(q, keys) is None:
                self._decide(Decision.OPTED_OUT, f"keypad: {keys}")
                raise _OptOut
            value = keypad_value(q, heard.digits) if heard.digits else None
            if value is not None:
                self._decide(Decision.CONFIRMING if q.confirm == "always" else Decision.KEYED,
                             f"keypad: {value}")
                if q.confirm != "always":
                    return Recorded(value, "keypad", 1.0)
                if (yield from self._confirm_keys(q, value)):
                    return Recorded(value, "keypad", 1.0)
            elif tries < MAX_REPROMPTS:
                self._decide(Decision.REPROMPTED, "digits" if heard.digits else
                             "silence" if heard.silent else "speech")
            else:
                self._decide(Decision.UNANSWERED, "digits" if heard.digits else
                             "silence" if heard.silent else "speech")
            prompt = Prompt(PromptKind.REPROMPT, f"{self.lang.reprompt} {text}", q.id, listen)
        return Recorded(None, "unanswered")

    def _confirm_keys(self, q: Question, value: str | float) -> Generator[Prompt, Heard, bool]:
        """A keyed answer read back: 1 confirms; anything else asks the question again."""
        text = confirm_text(q, spoken_value(q, value, self.lang), self.survey)
        heard = yield from self._hear(
            Prompt(PromptKind.CONFIRM, text, q.id, Listen("confirm", (), keypad=True)))
        if heard.digits.rstrip("#") == OPT_OUT_KEY:
            self._decide(Decision.OPTED_OUT, f"keypad: {heard.digits}")
            raise _OptOut
        yes = heard.digits.startswith("1")
        self._decide(Decision.CONFIRMED if yes else Decision.DENIED,
                     f"keypad: {heard.digits}" if heard.digits else "no keys")
        return yes

    def _decide_unless_denied(self, decision: Decision) -> None:
        """A turn gets one decision: a denied read-back already has its own."""
        if self._prompt.kind != PromptKind.CONFIRM:
            self._decide(decision, "digits" if self._heard.digits else
                         "silence" if self._heard.silent else self._meaning)

    def _confirm(self, q: Question, meaning: Meaning) -> Generator[Prompt, Heard, bool | None]:
        """Read the answer back: True if confirmed, False if denied, None if the reply was
        not understood (the answer was neither confirmed nor denied)."""
        assert meaning.value is not None
        table = confirm_phrases(self.lang)
        text = self.lang.confirm.format(value=spoken_value(q, meaning.value, self.lang))
        heard = yield from self._hear(
            Prompt(PromptKind.CONFIRM, text, q.id, Listen("confirm", tuple(table))))
        if heard.digits:
            yes: bool | None = heard.digits.startswith("1")
            said: Meaning | str = f"keypad: {heard.digits}"
        else:
            said = self._understood(heard, table)
            if said.intent == Intent.STOP:
                self._decide(Decision.OPTED_OUT, said)
                raise _OptOut
            # a yes heard at all (past the floor of understood()) confirms: the grammar is
            # yes, no and the intents, and a person read back a wrong answer says no
            yes = said.intent == Intent.ANSWER and said.value == "yes"
            if said.intent == Intent.NOMATCH:
                yes = None
        self._decide(Decision.CONFIRMED if yes else Decision.DENIED, said)
        return yes

    def _keypad(self, q: Question, listen: Listen) -> Generator[Prompt, Heard, Recorded]:
        text = keypad_text(q, self.survey)
        heard = yield from self._hear(Prompt(PromptKind.KEYPAD, text, q.id, listen))
        value = keypad_value(q, heard.digits) if heard.digits else None
        if value is not None:
            self._decide(Decision.KEYED, f"keypad: {value}")
            return Recorded(value, "keypad", 1.0)
        meaning = self._understood(heard, answer_phrases(q, self.lang))
        if meaning.intent == Intent.STOP:
            self._decide(Decision.OPTED_OUT, meaning)
            raise _OptOut
        if meaning.intent == Intent.ANSWER and heard.confidence >= CONFIDENT:
            self._decide(Decision.ACCEPTED, meaning)
            return Recorded(meaning.value, "speech", heard.confidence)
        self._decide(Decision.UNANSWERED, "digits" if heard.digits else
                     "silence" if heard.silent else meaning)
        return Recorded(None, "unanswered")

    def _holds(self, expr: str, where: str) -> bool | None:
        """A rule's value; None (unknown) if it fails, noted so the call keeps its answers."""
        try:
            return evaluate(expr, self._known())
        except RuleError as e:
            self.result.rule_errors.append(f"{where}: {e}")
            return None

    def _risk(self) -> str:
        for rule in self.survey.risk:
            held = self._holds(rule.when, f"risk rule line {rule.line}")
            if held is None:
                return UNKNOWN_RISK  # an earlier rule's failure hides which colour applies
            if held:
                return rule.colour
        # no rule holds: the default colour only if every question the rules read was
        # answered, or skipped by its condition. Unanswered is not "no": a question left
        # unanswered, or not reached when the call ended, leaves the risk unknown
        return UNKNOWN_RISK if self._open() else self.survey.risk_default

    def _open(self) -> list[str]:
        """Questions the risk rules read that have no answer but could have had one."""
        read = {n for rule in self.survey.risk for n in names_in(rule.when)}
        asked, qs = self.result.answers, self.survey.questions
        reached = max((i for i, q in enumerate(qs) if q.id in asked), default=-1)
        ended_early = self.result.outcome != Outcome.COMPLETED
        return [q.id for i, q in enumerate(qs) if q.id in read and (
            (q.id in asked and asked[q.id].value is None) or
            (q.id not in asked and ended_early and i > reached))]  # not reached (not skipped)
