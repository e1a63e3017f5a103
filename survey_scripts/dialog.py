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

from survey_scripts.certainty import CONFIDENT, agreed, settles, understood
from survey_scripts.errors import RuleError
from survey_scripts.model import OPT_OUT_KEY, Question, Survey
from survey_scripts.phrases import (
    Intent,
    Meaning,
    answer_phrases,
    confirm_phrases,
    go_back_phrases,
    keypad_value,
    spoken_value,
)
from survey_scripts.prompts import (
    PromptKind,
    asked_again_text,
    confirm_text,
    confirms_implicitly,
    implied_text,
    keypad_text,
    opening,
    question_text,
)
from survey_scripts.risk import risk_of
from survey_scripts.rules import evaluate
from survey_scripts.turns import Heard, Listen, Prompt, Recorded, Result, TurnDecision
from survey_scripts.vocabulary import Decision, Outcome

MAX_REPROMPTS = 2
MAX_REPEATS = 3


class _Hangup(Exception):
    pass


class _OptOut(Exception):
    pass


class _GoBack(Exception):
    """The callee said the answer said back with this question was wrong."""


def _quietly(expr: str, known: dict[str, str | float | None]) -> bool:
    """A condition's value for looking ahead; a failing rule is noted when it is asked."""
    try:
        return bool(evaluate(expr, known))
    except RuleError:
        return True


class Dialog:
    """One survey conversation. No audio, no I/O: testable with plain Heard objects."""

    def __init__(self, survey: Survey, notice: bool = False) -> None:
        """`notice`: the call is recorded, and the robot says so first."""
        self.survey = survey
        # an unsure answer waiting to be said back with the next question, and its record
        self._pending: tuple[Question, Recorded] | None = None
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
        self._pending = None  # never said back and gone on from: not an answer, nor risk's
        consented = r.answers.get(self.survey.questions[0].id)
        if r.outcome in (Outcome.COMPLETED, Outcome.PARTIAL) and consented is not None \
                and consented.value == "yes":
            r.risk = risk_of(self.survey, r, self._holds)
        return r

    def _survey(self) -> Generator[Prompt, Heard, None]:
        r = self.result
        first = self.survey.questions[0]
        consent = yield from self._ask(first, opening(self.survey, self.notice))
        r.answers[first.id] = consent
        if consent.value != "yes":
            # only a "no" is a refusal; no answer at all (a silent line, a machine taken
            # for a person) is a call to try again
            r.outcome = Outcome.REFUSED if consent.value == "no" else Outcome.PARTIAL
            yield self._goodbye(self.lang.goodbye_refused)
            return
        i, again = 1, None  # again: the question asked again after a go-back
        while True:
            at = self._next(i)
            try:
                if at is None:  # nothing left to ask: an answer waiting is read back
                    if self._pending is not None:
                        yield from self._read_back_pending()
                    break
                q = self.survey.questions[at]
                recorded = yield from self._ask(q, self._asking(q, again), explicit=again is q)
            except _GoBack:  # the answer said back was wrong: its question again
                assert self._pending is not None
                again, self._pending = self._pending[0], None
                i = self.survey.questions.index(again)
                continue
            if self._pending is not None:  # the callee went on: what was said back stands
                p, said_back = self._pending
                r.answers[p.id], self._pending = said_back, None
            if recorded.how == "implied":
                self._pending = (q, recorded)
            else:
                r.answers[q.id] = recorded
            i, again = at + 1, None
        r.outcome = Outcome.COMPLETED
        yield self._goodbye(self.lang.closing)

    def _next(self, i: int, known: dict[str, str | float | None] | None = None) -> int | None:
        """The index of the next question to ask from `i` on: the first whose condition
        holds (on `known` answers, or the call's)."""
        qs = self.survey.questions
        for j in range(i, len(qs)):
            q = qs[j]
            if not q.when or (_quietly(q.when, known) if known is not None
                              else self._holds(q.when, f"question '{q.id}': when")):
                return j
        return None

    def _asking(self, q: Question, again: Question | None) -> str:
        """How `q` is asked: after a go-back, as asked again; with the answer before it
        said back where one waits (implicit confirmation)."""
        if again is q:
            return asked_again_text(q, self.survey)
        text = question_text(q, self.survey)
        if self._pending is None:
            return text
        p, recorded = self._pending
        assert recorded.value is not None
        said = spoken_value(p, recorded.value, self.lang)
        return f"{implied_text(said, self.survey)} {text}"

    def _follows(self, q: Question, value: str | float) -> bool:
        """Whether a spoken question would follow `q` answered `value`: where the answer
        could be said back and gone back from (implicit confirmation)."""
        qs = self.survey.questions
        nxt = self._next(qs.index(q) + 1, self._known() | {q.id: value})
        return nxt is not None and not qs[nxt].keys_only

    def _known(self) -> dict[str, str | float | None]:
        """The answers so far, one waiting to be said back included (what follows it is
        asked on it; a go-back asks everything after it again)."""
        known = {q.id: None for q in self.survey.questions} | self.result.values()
        if self._pending is not None:
            known[self._pending[0].id] = self._pending[1].value
        return known

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

    def _ask(self, q: Question, text: str,
             explicit: bool = False) -> Generator[Prompt, Heard, Recorded]:
        """Ask until answered: reprompts, repeats, confirmation, then the keypad. An
        unsure answer is read back, or (implicit confirmation, unless `explicit`) taken
        as "implied", to be said back with the next question. Where this prompt says the
        previous answer back, a go-back phrase raises _GoBack."""
        if q.keys_only:
            return (yield from self._ask_keys(q, text))
        table, listen = self._listening(q)
        implicit = not explicit and confirms_implicitly(q, self.survey)
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
            if meaning.intent == Intent.GO_BACK:
                self._decide(Decision.WENT_BACK, meaning)
                raise _GoBack
            if meaning.intent == Intent.NOMATCH and self._pending is not None \
                    and not heard.silent:
                # speech not understood where an answer was said back: it may have been
                # a go-back; the answer is read back before this question is asked again
                self._decide(Decision.CONFIRMING, "digits" if heard.digits else meaning)
                yield from self._read_back_pending()
                table, listen = self._listening(q)
                prompt = Prompt(PromptKind.QUESTION, question_text(q, self.survey), q.id,
                                listen)
                continue
            # "don't know" heard unsurely: the question is asked again
            if meaning.intent == Intent.DONT_KNOW and settles(meaning.intent, heard.confidence):
                self._decide(Decision.DONT_KNOW, meaning)
                return Recorded(None, "dont_know", heard.confidence)
            if meaning.intent == Intent.REPEAT and repeats < MAX_REPEATS:
                self._decide(Decision.REPEATED, meaning)
                repeats += 1
                # the question again; with the answer said back before it, if one was
                again = text if self._pending is not None else q.prompt
                prompt = Prompt(PromptKind.QUESTION, again, q.id, listen)
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
                    if implicit and meaning.value is not None \
                            and self._follows(q, meaning.value):
                        self._decide(Decision.IMPLIED, meaning)
                        return Recorded(meaning.value, "implied", heard.confidence)
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

    def _listening(self, q: Question) -> tuple[dict[str, Meaning], Listen]:
        """What answers `q`, and a go-back where an answer is said back with it."""
        table = answer_phrases(q, self.lang)
        if self._pending is None:
            return table, Listen(q.id, tuple(table), keypad=True)
        table = table | go_back_phrases(self.lang)
        return table, Listen(f"{q.id}+go_back", tuple(table), keypad=True)

    def _read_back_pending(self) -> Generator[Prompt, Heard, None]:
        """The answer said back, read back on a turn of its own: recorded if confirmed,
        asked again (_GoBack) if not."""
        assert self._pending is not None
        p, recorded = self._pending
        assert recorded.value is not None
        if not (yield from self._confirm(p, Meaning(Intent.ANSWER, recorded.value))):
            raise _GoBack
        self.result.answers[p.id] = Recorded(recorded.value, "confirmed", recorded.confidence)
        self._pending = None

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
