"""survey_scripts: pure unit tests, no audio."""

from __future__ import annotations

from pathlib import Path

import pytest

from survey_scripts.dialog import Dialog, Heard, Outcome, PromptKind, Result
from survey_scripts.errors import RuleError, SurveyError
from survey_scripts.loader import load_survey
from survey_scripts.model import Survey
from survey_scripts.numbers import number_phrases, parse, to_words
from survey_scripts.phrases import Intent, answer_phrases, interpret, keypad_value
from survey_scripts.rules import check_expression, evaluate
from survey_scripts.vocabulary import Decision
from tests.conftest import KO


def drive(survey: Survey, replies: list[Heard]) -> tuple[Result, list]:
    flow = Dialog(survey).run()
    prompts = [next(flow)]
    for heard in replies:
        try:
            prompts.append(flow.send(heard))
        except StopIteration as stop:
            return stop.value, prompts
    raise AssertionError(f"dialog still running after {len(replies)} replies: {prompts[-1]}")


def said(text: str, conf: float = 0.9) -> Heard:
    return Heard(transcript=text, confidence=conf)


ALL_NO = [said("yes"), said("no"), said("no"), said("no"), said("no"), said("no"),
          said("none"), Heard(hangup=True)]


@pytest.mark.parametrize(("text", "value"), [
    ("three", 3), ("twelve", 12), ("thirty seven point five", 37.5), ("twenty", 20),
    ("one hundred two", 102), ("zero point one", 0.1)])
def test_spoken_numbers(text: str, value: float) -> None:
    assert parse(text) == value
    assert parse(to_words(value)) == value


@pytest.mark.parametrize("text", ["three seven", "point five", "hello", "", "twelve thirty"])
def test_not_numbers(text: str) -> None:
    assert parse(text) is None


def test_korean_numbers() -> None:
    assert to_words(37.5, "ko") == "삼 십 칠 점 오"
    assert parse("삼 십 칠 점 오", "ko") == 37.5
    assert parse("십 사", "ko") == 14
    assert len(number_phrases(1, 30, False, "ko")) == 30


def test_shipped_surveys_load(survey: Survey) -> None:
    ids = [q.id for q in survey.questions]
    assert ids == ["consent", "fever", "fever_days", "cough", "breathing", "taste_smell",
                   "contact", "travel"]
    ko = load_survey(KO)
    assert [q.id for q in ko.questions] == ids
    assert survey.question("fever_days").when == "fever == 'yes'"


def test_survey_errors_name_their_lines(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "survey: x\n"
        "greeting: hi\n"
        "language: {code: en}\n"
        "questions:\n"
        "  - id: consent\n"
        "    type: yes_no\n"
        "    prompt: ok?\n"
        "  - id: fever\n"
        "    type: maybe\n"
        "    prompt: fever?\n"
        "  - id: days\n"
        "    type: number\n"
        "    prompt: days?\n"
        "    when: nosuch == 'yes'\n", encoding="utf-8")
    with pytest.raises(SurveyError) as e:
        load_survey(bad)
    text = str(e.value)
    assert str(bad) in text
    assert "line 9: question 'fever': type 'maybe'" in text
    assert "line 14:" in text and "nosuch" in text
    assert "line 3: language: 'yes'" in text
    assert "min <= max" in text


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("survey: x\nquestions:\n  - id: [unclosed\n", encoding="utf-8")
    with pytest.raises(SurveyError, match=r"line \d+: not valid YAML"):
        load_survey(bad)


def test_missing_file_is_a_survey_error(tmp_path: Path) -> None:
    with pytest.raises(SurveyError, match="cannot read"):
        load_survey(tmp_path / "none.yaml")


def test_rules_are_safe() -> None:
    assert evaluate("fever == 'yes' and days >= 3", {"fever": "yes", "days": 4})
    assert not evaluate("days >= 3", {"days": None})
    assert check_expression("__import__('os').system('x')", {"fever"}) is not None
    assert check_expression("fever ==", {"fever"}) is not None
    with pytest.raises(RuleError, match="attribute"):
        evaluate("fever.__class__", {"fever": "yes"})
    with pytest.raises(RuleError, match="ZeroDivisionError"):
        evaluate("1 / fever_days", {"fever_days": 0})


def test_interpretation(survey: Survey) -> None:
    lang = survey.language
    table = answer_phrases(survey.question("fever_days"), lang)
    assert interpret("um three days", table, lang.fillers).value == 3
    assert interpret("thirty one", table, lang.fillers).intent == Intent.NOMATCH  # out of range
    yn = answer_phrases(survey.question("cough"), lang)
    assert interpret("yeah", yn, lang.fillers).value == "yes"
    assert interpret("stop calling me", yn, lang.fillers).intent == Intent.STOP
    assert interpret("repeat that", yn, lang.fillers).intent == Intent.REPEAT
    travel = answer_phrases(survey.question("travel"), lang)
    assert interpret("overseas", travel, lang.fillers).value == "abroad"


def test_keypad_values(survey: Survey) -> None:
    assert keypad_value(survey.question("cough"), "1") == "yes"
    assert keypad_value(survey.question("cough"), "2#") == "no"
    assert keypad_value(survey.question("fever_days"), "12#") == 12
    assert keypad_value(survey.question("fever_days"), "99#") is None
    assert keypad_value(survey.question("travel"), "4") == "abroad"


def test_complete_survey_with_branching(survey: Survey) -> None:
    result, prompts = drive(survey, [
        said("yes"), said("yes"), said("three days"), said("yes"), said("yes"), said("no"),
        said("no"), said("no"), said("abroad"), Heard(hangup=True)])
    assert result.outcome == Outcome.COMPLETED
    assert result.answers["fever_days"].how == "confirmed"  # numbers are always read back
    assert result.values() == {"consent": "yes", "fever": "yes", "fever_days": 3, "cough": "yes",
                               "breathing": "no", "taste_smell": "no", "contact": "no",
                               "travel": "abroad"}
    assert result.risk == "red"  # fever for 3 days with a cough
    assert prompts[-1].kind == PromptKind.GOODBYE


def test_fever_days_skipped_without_fever(survey: Survey) -> None:
    result, _ = drive(survey, ALL_NO)
    assert "fever_days" not in result.answers
    assert result.risk == "green"


def test_refusal_ends_politely(survey: Survey) -> None:
    result, prompts = drive(survey, [said("no"), Heard(hangup=True)])
    assert result.outcome == Outcome.REFUSED
    assert result.values() == {"consent": "no"}
    assert prompts[-1].text == survey.language.goodbye_refused


def test_opt_out_on_any_question(survey: Survey) -> None:
    result, prompts = drive(survey, [said("yes"), said("no"), said("stop calling me"),
                                     Heard(hangup=True)])
    assert result.outcome == Outcome.OPTED_OUT
    assert prompts[-1].text == survey.language.goodbye_opt_out


def test_reprompts_then_keypad_then_unanswered(survey: Survey) -> None:
    silent = Heard(silent=True)
    result, prompts = drive(survey, [said("yes"), silent, said(""), silent, silent,
                                     *ALL_NO[2:]])
    kinds = [p.kind for p in prompts[1:6]]
    assert kinds == [PromptKind.QUESTION, PromptKind.REPROMPT, PromptKind.REPROMPT,
                     PromptKind.KEYPAD, PromptKind.QUESTION]
    assert result.answers["fever"].value is None
    assert result.answers["fever"].how == "unanswered"


def test_keypad_answer_recorded(survey: Survey) -> None:
    result, _ = drive(survey, [said("yes"), Heard(silent=True), Heard(silent=True),
                               Heard(silent=True), Heard(digits="1", confidence=1),
                               Heard(digits="4#", confidence=1), *ALL_NO[2:]])
    assert result.answers["fever"].value == "yes"
    assert result.answers["fever"].how == "keypad"
    assert result.answers["fever_days"].value == 4


def test_low_confidence_is_confirmed(survey: Survey) -> None:
    result, prompts = drive(survey, [said("yes"), said("yes"), said("three", 0.4),
                                     said("no"), said("thirteen", 0.4), said("yes"),
                                     *ALL_NO[2:]])
    assert prompts[3].kind == PromptKind.CONFIRM
    assert prompts[3].text == "I heard three days. Is that right?"
    assert result.answers["fever_days"].value == 13
    assert result.answers["fever_days"].how == "confirmed"


def test_low_confidence_never_recorded_without_confirmation(survey: Survey) -> None:
    low = said("three", 0.4)
    unsure = said("", 0.0)
    result, _ = drive(survey, [said("yes"), said("yes"), low, unsure, low, unsure, low,
                               unsure, Heard(silent=True), *ALL_NO[2:]])
    assert result.answers["fever_days"].value is None


def test_confidence_bands_accept_read_back_or_ask_again(explicit_survey: Survey) -> None:
    """confirm: auto (fever): a sure yes is recorded, an unsure one read back, one heard
    below UNSURE is not taken at all: the question is asked again, nothing read back."""
    from survey_scripts.certainty import CONFIDENT, UNSURE

    sure, unsure, low = said("yes", CONFIDENT), said("yes", (UNSURE + CONFIDENT) / 2), \
        said("yes", UNSURE / 2)
    result, prompts = drive(explicit_survey, [said("yes"), sure, said("three"), said("yes"),
                                     *ALL_NO[3:]])
    assert result.answers["fever"].how == "speech"
    result, prompts = drive(explicit_survey, [said("yes"), unsure, said("yes"), said("three"),
                                     said("yes"), *ALL_NO[3:]])
    assert prompts[2].kind == PromptKind.CONFIRM and result.answers["fever"].how == "confirmed"
    result, prompts = drive(explicit_survey, [said("yes"), low, sure, said("three"), said("yes"),
                                     *ALL_NO[3:]])
    assert prompts[2].kind == PromptKind.REPROMPT
    assert [d.decision for d in result.decisions[1:3]] == [Decision.REPROMPTED,
                                                          Decision.ACCEPTED]


def test_the_same_unsure_answer_twice_is_recorded(explicit_survey: Survey) -> None:
    """An unsure yes read back, the reply not understood, the question asked again and
    the same yes heard unsurely again: two hearings agree, recorded with their joint
    probability, no second read-back."""
    first, again = said("yes", 0.8), said("yes", 0.75)
    result, prompts = drive(explicit_survey, [said("yes"), first, said("", 0.0), again,
                                     said("three"), said("yes"), *ALL_NO[3:]])
    assert [p.kind for p in prompts[1:5]] == [PromptKind.QUESTION, PromptKind.CONFIRM,
                                              PromptKind.REPROMPT, PromptKind.QUESTION]
    fever = result.answers["fever"]
    assert (fever.value, fever.how) == ("yes", "agreed")
    assert fever.confidence == pytest.approx(12 / 13)  # odds 4 x 3
    assert Decision.AGREED in [d.decision for d in result.decisions]


@pytest.mark.parametrize(("reply", "again", "why"), [
    (said("no"), said("yes", 0.8), "the callee denied the read-back"),
    (said("", 0.0), said("no", 0.8), "the two hearings differ"),
    (said("", 0.0), said("yes", 0.6), "together still below CONFIDENT"),
])
def test_no_agreement_without_two_unsure_hearings_of_one_answer(
        explicit_survey: Survey, reply: Heard, again: Heard, why: str) -> None:
    result, prompts = drive(explicit_survey, [said("yes"), said("yes", 0.8), reply, again,
                                     said("yes"), *ALL_NO[3:]])
    assert prompts[4].kind == PromptKind.CONFIRM, why
    assert Decision.AGREED not in [d.decision for d in result.decisions], why


def test_numbers_are_read_back_even_when_heard_alike_twice(survey: Survey) -> None:
    """confirm: always (fever_days): agreement never replaces the read-back."""
    three = said("three", 0.85)
    result, prompts = drive(survey, [said("yes"), said("yes"), three, said("", 0.0), three,
                                     said("yes"), *ALL_NO[2:]])
    assert prompts[5].kind == PromptKind.CONFIRM
    assert result.answers["fever_days"].how == "confirmed"


def test_a_stop_heard_too_unsurely_opts_nobody_out(survey: Survey) -> None:
    from survey_scripts.certainty import UNSURE

    result, prompts = drive(survey, [said("yes"), said("stop calling me", UNSURE / 2),
                                     said("no"), *ALL_NO[3:]])
    assert result.outcome != Outcome.OPTED_OUT and prompts[2].kind == PromptKind.REPROMPT


def test_a_second_guess_needs_more_than_a_first_answer(explicit_survey: Survey) -> None:
    """What the bare grammar heard in speech the garbage loop took is read back only from
    GUESS_FLOOR; a first-pass answer from UNSURE."""
    from survey_scripts.certainty import GUESS_FLOOR, UNSURE

    between = (UNSURE + GUESS_FLOOR) / 2
    guess = Heard(transcript="yes", confidence=between, guessed=True)
    result, prompts = drive(explicit_survey, [said("yes"), guess, said("yes", between), said("yes"),
                                     said("three"), said("yes"), *ALL_NO[3:]])
    assert [p.kind for p in prompts[2:5]] == [PromptKind.REPROMPT, PromptKind.CONFIRM,
                                              PromptKind.QUESTION]
    assert result.answers["fever"].how == "confirmed"


def test_an_unsure_dont_know_is_asked_again(survey: Survey) -> None:
    """"I don't know" ends the question unanswered: heard below CONFIDENT (the simulated
    "I am driving right now" came out so), the question is asked again."""
    from survey_scripts.certainty import CONFIDENT

    result, prompts = drive(survey, [said("yes"), said("i am not sure", CONFIDENT - 0.2),
                                     said("no"), *ALL_NO[3:]])
    assert prompts[2].kind == PromptKind.REPROMPT and result.answers["fever"].value == "no"
    result, _ = drive(survey, [said("yes"), said("i am not sure", CONFIDENT), *ALL_NO[3:]])
    assert result.answers["fever"].how == "dont_know"


def test_repeat_and_dont_know(survey: Survey) -> None:
    result, prompts = drive(survey, [said("yes"), said("repeat that"), said("i don't know"),
                                     *ALL_NO[2:]])
    assert prompts[1].text == prompts[2].text == survey.question("fever").prompt
    assert result.answers["fever"].how == "dont_know"


def test_hangup_mid_survey_is_partial(survey: Survey) -> None:
    result, _ = drive(survey, [said("yes"), said("no"), Heard(hangup=True)])
    assert result.outcome == Outcome.PARTIAL
    assert list(result.answers) == ["consent", "fever"]


SURVEY_HEAD = """survey: x
greeting: hi
language:
  code: en
  voice: en
  yes: ["yes"]
  no: ["no"]
  repeat: ["repeat"]
  dont_know: ["not sure"]
  stop: ["stop calling me"]
  fillers: ["um"]
  reprompt: Sorry.
  keypad_yes_no: Press one or two.
  keypad_number: Type the number.
  keypad_choice: "Press {options}."
  confirm: "I heard {value}. Right?"
  goodbye_refused: Bye.
  goodbye_opt_out: Bye.
  closing: Bye.
questions:
  - id: consent
    type: yes_no
    prompt: Agree?
  - id: fever
    type: yes_no
    prompt: Fever?
  - id: fever_days
    type: number
    min: 0
    max: 30
    prompt: Days?
"""


@pytest.mark.parametrize(("rule", "why"), [
    ("{'consent': 1}['x'] == 1", "subscript"),
    ("1 / fever_days > 1", "fails when fever_days=0"),
    ("fever.split()[5] == 'x'", "subscript"),
    ("not " * 50_000 + "fever", "at most 500 characters"),
    ("fever.center(10**9) == 'x'", "other than min, max or abs"),
    ("fever_days ** 99999 > 1", "uses pow"),
    ("'x' * 100 == fever", None),  # bounded: fine
])
def test_rules_that_would_fail_in_a_call_fail_at_load(tmp_path: Path, rule: str,
                                                      why: str | None) -> None:
    """Issue 9.4: a rule that raises during a call lost the whole interview."""
    f = tmp_path / "s.yaml"
    f.write_text(SURVEY_HEAD + f"risk:\n  rules:\n    - colour: red\n      when: {rule!r}\n",
                 encoding="utf-8")
    if why is None:
        load_survey(f)
        return
    with pytest.raises(SurveyError, match=r"line 3[0-9]: risk rule") as e:
        load_survey(f)
    assert why in str(e.value)


def test_a_rule_failing_in_a_call_keeps_the_answers(survey: Survey) -> None:
    """If a rule still fails mid-call, the answers are recorded and the risk is unknown."""
    from dataclasses import replace

    from survey_scripts.model import RiskRule

    broken = replace(survey, risk=(RiskRule("red", "1 / (fever_days - fever_days) > 0"),))
    replies = [said("yes"), said("yes"), said("three"), said("yes"), said("yes"), said("no"),
               said("no"), said("no"), said("none"), Heard(hangup=True)]
    result, _ = drive(broken, replies)
    assert result.outcome == Outcome.COMPLETED
    assert result.answers["fever_days"].value == 3
    assert result.risk == "unknown"
    assert len(result.rule_errors) == 1 and "ZeroDivisionError" in result.rule_errors[0]


def test_yaml_alias_bomb_in_a_rule_is_refused_quickly(tmp_path: Path) -> None:
    """Issue 9.10: an alias to a huge nested list where a text is expected took 1.3 GB."""
    import time

    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [*a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, "
               f"*a{i-1}, *a{i-1}, *a{i-1}]" for i in range(1, 9)]
    text = "\n".join(levels) + "\n" + SURVEY_HEAD.replace(
        "    prompt: Days?", "    prompt: Days?\n    when: *a8\n    unit: *a8")
    text = text.replace("  - id: fever\n    type: yes_no", "  - id: fever\n    type: *a8")
    f = tmp_path / "bomb.yaml"
    f.write_text(text, encoding="utf-8")
    t0 = time.monotonic()
    with pytest.raises(SurveyError) as e:
        load_survey(f)
    assert time.monotonic() - t0 < 2
    assert "'when' must be a single value, not a list" in str(e.value)
    assert "'type' must be a single value, not a list" in str(e.value)


def test_every_turn_gets_one_decision(explicit_survey: Survey) -> None:
    from survey_scripts.vocabulary import Decision as D

    silent = Heard(silent=True)
    result, _ = drive(explicit_survey, [
        said("yes"), said("repeat that"), said("yes", 0.4), said("no"), silent, silent,
        Heard(digits="1", confidence=1), said("three", 0.95), said("yes"), said("i don't know"),
        silent, silent, silent, silent, *ALL_NO[4:]])
    got = [(d.question_id, d.decision) for d in result.decisions]
    assert got[:13] == [("consent", D.ACCEPTED), ("fever", D.REPEATED), ("fever", D.CONFIRMING),
                        ("fever", D.DENIED), ("fever", D.REPROMPTED), ("fever", D.KEYPAD),
                        ("fever", D.KEYED), ("fever_days", D.CONFIRMING),
                        ("fever_days", D.CONFIRMED), ("cough", D.DONT_KNOW),
                        ("breathing", D.REPROMPTED), ("breathing", D.REPROMPTED),
                        ("breathing", D.KEYPAD)]
    assert got[13] == ("breathing", D.UNANSWERED)
    assert len(result.decisions) == result.turns  # one decision per turn heard


def test_unanswered_is_not_no_for_the_risk(survey: Survey) -> None:
    """Issue 17: a partial interview got the default green, the rules having read the
    unanswered contact and travel questions as no."""
    complete, _ = drive(survey, ALL_NO)
    assert complete.outcome == Outcome.COMPLETED and complete.risk == "green"
    stopped, _ = drive(survey, [said("yes"), said("no"), said("no"), said("no"),
                                Heard(hangup=True)])  # hung up before taste, contact, travel
    assert stopped.outcome == Outcome.PARTIAL and stopped.risk == "unknown"
    told, _ = drive(survey, [said("yes"), said("no"), said("no"), said("yes"),
                             Heard(hangup=True)])  # difficulty breathing: red already
    assert told.risk == "red"
    silent, _ = drive(survey, [Heard(silent=True)] * 8)  # no consent: nothing to colour
    assert silent.risk is None
