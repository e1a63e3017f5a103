"""Implicit confirmation: an unsure answer said back with the next question ("I heard no.
If that is wrong, say go back."), a go-back asking it again, and what is recorded when
the callee goes on, goes back or hangs up."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from dialer.lines.simulated.callee import Callee, PromptMeaning
from dialer.lines.simulated.persona import make_persona
from survey_scripts.dialog import Heard, Outcome, PromptKind
from survey_scripts.errors import SurveyError
from survey_scripts.loader import load_survey
from survey_scripts.model import Survey
from survey_scripts.prompts import every_prompt, implicit_prompts
from survey_scripts.vocabulary import Decision
from tests.conftest import EN
from tests.test_survey_scripts import drive, said

SAID_BACK = "I heard {}. If that is wrong, say go back."
UNSURE = 0.6  # between the dialog's UNSURE and CONFIDENT: read back, or said back


def test_an_unsure_answer_is_said_back_with_the_next_question(survey: Survey) -> None:
    result, prompts = drive(survey, [said("yes"), said("no", UNSURE), said("no"), said("no"),
                                     said("no"), said("no"), said("none"), Heard(hangup=True)])
    assert prompts[2].kind == PromptKind.QUESTION and prompts[2].question_id == "cough"
    assert prompts[2].text == f"{SAID_BACK.format('no')} Do you have a cough?"
    assert "go back" in prompts[2].listen.phrases  # type: ignore[union-attr]
    assert "go back" not in prompts[3].listen.phrases  # type: ignore[union-attr]
    fever = result.answers["fever"]
    assert (fever.value, fever.how, fever.confidence) == ("no", "implied", UNSURE)
    assert result.decisions[1].decision == Decision.IMPLIED
    assert result.outcome == Outcome.COMPLETED and len(prompts) == 8  # no read-back turn


def test_what_follows_is_asked_on_the_answer_said_back(survey: Survey) -> None:
    """fever_days is asked only after a yes: an unsure yes brings it, said back first."""
    result, prompts = drive(survey, [said("yes"), said("yes", UNSURE), said("three"),
                                     said("yes"), *[said("no")] * 4, said("none"),
                                     Heard(hangup=True)])
    assert prompts[2].question_id == "fever_days"
    assert prompts[2].text.startswith(SAID_BACK.format("yes"))
    assert prompts[3].kind == PromptKind.CONFIRM  # a number is read back, always
    assert result.answers["fever"].how == "implied"


def test_go_back_asks_again_reads_back_and_follows_the_new_answer(survey: Survey) -> None:
    """Said back wrong (yes for no): the callee says go back; the question is asked
    again, its unsure answer read back (not said back again), and what follows it is
    what follows the new answer (no fever_days after a no)."""
    result, prompts = drive(survey, [said("yes"), said("yes", UNSURE), said("go back"),
                                     said("no", UNSURE), said("yes"), said("no"),
                                     said("no"), said("no"), said("no"), said("none"),
                                     Heard(hangup=True)])
    assert prompts[2].question_id == "fever_days"
    assert prompts[3].question_id == "fever"
    assert prompts[3].text == "Let me ask again. In the last fourteen days, have you had a fever?"
    assert prompts[4].kind == PromptKind.CONFIRM
    assert prompts[5].question_id == "cough" and prompts[5].text == "Do you have a cough?"
    assert "fever_days" not in result.answers
    assert (result.answers["fever"].value, result.answers["fever"].how) == ("no", "confirmed")
    assert Decision.WENT_BACK in [d.decision for d in result.decisions]
    assert len(result.decisions) == result.turns  # one decision per turn heard


def test_a_hang_up_before_the_callee_goes_on_records_nothing_said_back(
        survey: Survey) -> None:
    """An answer said back is recorded only once the callee went on: unanswered is not
    "no", and an unsure "no" the callee never heard said back is not recorded either."""
    result, prompts = drive(survey, [said("yes"), said("no", UNSURE), Heard(hangup=True)])
    assert prompts[2].text.startswith(SAID_BACK.format("no"))
    assert "fever" not in result.answers
    assert result.outcome == Outcome.PARTIAL and result.risk == "unknown"
    result, _ = drive(survey, [said("yes"), said("no"), said("no"), said("no"),
                               said("no"), said("yes", UNSURE), Heard(hangup=True)])
    assert "contact" not in result.answers  # the rules read contact == 'yes': not from
    assert result.risk == "unknown"  # an unsure yes the callee never went on from


def test_a_turn_not_understood_after_a_said_back_answer_has_it_read_back(
        survey: Survey) -> None:
    """Speech not understood where an answer was said back may have been a go-back: the
    answer is read back on a turn of its own, then the question asked again; denied, the
    question it answered is asked again."""
    result, prompts = drive(survey, [said("yes"), said("no", UNSURE), said("", 0.0),
                                     said("yes"), said("no"), *[said("no")] * 3,
                                     said("none"), Heard(hangup=True)])
    assert prompts[3].kind == PromptKind.CONFIRM and prompts[3].question_id == "fever"
    assert prompts[3].text == "I heard no. Is that right?"
    assert prompts[4].text == "Do you have a cough?"
    assert "go back" not in prompts[4].listen.phrases  # type: ignore[union-attr]
    assert (result.answers["fever"].value, result.answers["fever"].how) == ("no", "confirmed")
    assert len(result.decisions) == result.turns
    result, prompts = drive(survey, [said("yes"), said("no", UNSURE), said("", 0.0),
                                     said("no"), said("yes"), said("three"), said("yes"),
                                     *[said("no")] * 4, said("none"), Heard(hangup=True)])
    assert prompts[4].text.startswith("Let me ask again.") and prompts[4].question_id == "fever"
    assert prompts[5].question_id == "fever_days"  # asked on the new answer
    assert result.answers["fever"].value == "yes" and result.answers["fever_days"].value == 3
    # silence is no go-back: the question is asked again, the answer still said back
    result, prompts = drive(survey, [said("yes"), said("no", UNSURE), Heard(silent=True),
                                     said("no"), *[said("no")] * 4, said("none"),
                                     Heard(hangup=True)])
    assert prompts[3].kind == PromptKind.REPROMPT and prompts[3].question_id == "cough"
    assert "go back" in prompts[3].listen.phrases  # type: ignore[union-attr]
    assert result.answers["fever"].how == "implied"


def test_consent_numbers_and_the_last_question_are_read_back(survey: Survey) -> None:
    """Consent decides the call, numbers are the most confusable answers, and nothing
    follows the last question to say an answer back with: read back, as before."""
    result, prompts = drive(survey, [said("yes", UNSURE), said("yes"), said("no"),
                                     said("no"), said("no"), said("no"), said("no"),
                                     said("none", UNSURE), said("yes"), Heard(hangup=True)])
    assert prompts[1].kind == PromptKind.CONFIRM and prompts[1].question_id == "consent"
    assert prompts[8].kind == PromptKind.CONFIRM and prompts[8].question_id == "travel"
    assert result.answers["travel"].how == "confirmed"


def test_an_answer_before_a_keypad_question_is_read_back(survey: Survey) -> None:
    """Keys cannot say go back: before a keypad question the answer is read back."""
    qs = tuple(dataclasses.replace(q, input="keypad") if q.id == "cough" else q
               for q in survey.questions)
    mixed = dataclasses.replace(survey, questions=qs)
    result, prompts = drive(mixed, [said("yes"), said("no", UNSURE), said("yes"),
                                    Heard(digits="2", confidence=1.0), *[said("no")] * 3,
                                    said("none"), Heard(hangup=True)])
    assert prompts[2].kind == PromptKind.CONFIRM and prompts[2].question_id == "fever"
    assert result.answers["fever"].how == "confirmed"
    assert not any(s.question_id == "cough" and s.implied_id for s in implicit_prompts(mixed))


def test_said_back_with_nothing_asked_after_it_is_read_back(survey: Survey) -> None:
    """The next question's condition failed when asked (it looked askable ahead): the
    answer waiting is read back before the goodbye; denied, its question again."""
    qs = tuple(dataclasses.replace(q, when="1 / 0 > 1") if q.id == "travel" else q
               for q in survey.questions)
    failing = dataclasses.replace(survey, questions=qs)
    result, prompts = drive(failing, [said("yes"), *[said("no")] * 4, said("no", UNSURE),
                                      said("yes"), Heard(hangup=True)])
    assert prompts[6].kind == PromptKind.CONFIRM and prompts[6].question_id == "contact"
    assert prompts[7].kind == PromptKind.GOODBYE and result.outcome == Outcome.COMPLETED
    assert (result.answers["contact"].value, result.answers["contact"].how) == ("no",
                                                                                "confirmed")
    result, prompts = drive(failing, [said("yes"), *[said("no")] * 4, said("no", UNSURE),
                                      said("no"), said("yes"), Heard(hangup=True)])
    assert prompts[7].text.startswith("Let me ask again.")
    assert prompts[7].question_id == "contact" and prompts[8].kind == PromptKind.GOODBYE
    assert result.answers["contact"].value == "yes" and result.rule_errors
    assert [d.decision for d in result.decisions[5:]] == [
        Decision.IMPLIED, Decision.DENIED, Decision.ACCEPTED]


def test_a_go_back_is_heard_only_where_an_answer_was_said_back(survey: Survey) -> None:
    result, prompts = drive(survey, [said("yes"), said("go back"), said("no"), *[said("no")] * 4,
                                     said("none"), Heard(hangup=True)])
    assert prompts[2].kind == PromptKind.REPROMPT
    assert Decision.WENT_BACK not in [d.decision for d in result.decisions]


def test_without_its_words_a_language_reads_every_unsure_answer_back(survey: Survey) -> None:
    plain = dataclasses.replace(survey, language=dataclasses.replace(
        survey.language, implied="", go_back=(), asked_again=""))
    result, prompts = drive(plain, [said("yes"), said("no", UNSURE), said("yes"), said("no"),
                                    *[said("no")] * 4, said("none"), Heard(hangup=True)])
    assert prompts[2].kind == PromptKind.CONFIRM
    assert result.answers["fever"].how == "confirmed"
    assert implicit_prompts(plain) == []


def test_every_prompt_said_back_is_known_to_the_robot_and_callees(survey: Survey) -> None:
    texts = {s.text for s in every_prompt(survey)}
    with_back = [s for s in implicit_prompts(survey) if s.implied_id]
    assert f"{SAID_BACK.format('yes')} For how many days have you had a fever?" in texts
    assert {(s.implied_id, s.question_id) for s in with_back} >= {
        ("fever", "fever_days"), ("fever", "cough"), ("contact", "travel")}
    assert not any(s.implied_id in ("consent", "fever_days", "travel") for s in with_back)


def _callee(survey: Survey, truth: dict[str, str], heard: PromptMeaning) -> Callee:
    class Ear:
        def hear(self, line: bytes) -> PromptMeaning:
            return heard
    seed = next(s for s in range(1, 500) if make_persona(s, survey).truth.get("fever")
                == truth["fever"] and not make_persona(s, survey).habits.keypad_only)
    return Callee(make_persona(seed, survey), survey, Ear())  # type: ignore[arg-type]


@pytest.mark.parametrize(("truth", "back"), [("yes", False), ("no", True)])
def test_a_simulated_callee_goes_back_when_said_back_wrong(survey: Survey, truth: str,
                                                           back: bool) -> None:
    heard = PromptMeaning("question", "fever_days", "yes", "fever")
    reply = _callee(survey, {"fever": truth}, heard).reply(b"")
    assert (reply.kind == "speech" and reply.text in survey.language.go_back) == back


def _write(tmp_path: Path, old: str, new: str) -> Path:
    text = EN.read_text().replace(old, new)
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def test_implicit_confirmation_words_are_checked_with_their_lines(tmp_path: Path) -> None:
    lines = EN.read_text().splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.strip().startswith("go_back:")) + 1
    with pytest.raises(SurveyError) as e:
        load_survey(_write(tmp_path, '  go_back: ["go back", "wrong answer"]\n', ""))
    assert "go_back missing" in str(e.value)
    with pytest.raises(SurveyError) as e:
        load_survey(_write(tmp_path, '["go back", "wrong answer"]', '["go back", "nope"]'))
    assert f"line {at}" in str(e.value) and "'nope' is also in 'no'" in str(e.value)
    with pytest.raises(SurveyError) as e:
        load_survey(_write(tmp_path, "If that is wrong, say go back.",
                           "If {that} is wrong, say go back."))
    assert "uses {that}" in str(e.value)


@pytest.mark.parametrize("voice", [("flite", "kal16"), ("flite", "slt"),
                                   ("espeak-ng", "gmw/en-us+klatt4")])
def test_go_back_is_heard_beside_the_next_questions_answers(survey: Survey,
                                                            voice: tuple[str, str]) -> None:
    """From the sound: "go back" on the question that says an answer back is heard as a
    go-back, and "no" there is never one. ("wrong answer", the other go-back
    phrase, flite's slt says so that it is rejected: a turn not understood there has
    the answer read back, test_a_turn_not_understood_after_a_said_back_answer...)"""
    import numpy as np

    from speech.audio import Audio
    from speech.channel import from_line, to_line
    from speech.recognizer import Grammar
    from speech.sphinx import SphinxRecognizer
    from speech.tts import Synthesizer, Voice
    from survey_scripts.certainty import UNSURE as FLOOR
    from survey_scripts.phrases import Intent, answer_phrases, go_back_phrases, interpret

    lang = survey.language
    table = answer_phrases(survey.question("cough"), lang) | go_back_phrases(lang)
    grammar = Grammar("cough+go_back", tuple(table), lang.fillers)
    sphinx, synth, pad = SphinxRecognizer(), Synthesizer(), np.zeros(2400, dtype=np.int16)
    heard = {}
    for text in ("go back", "no"):
        a = synth.speak(text, Voice(*voice)).resampled(8000)
        line = to_line(Audio(np.concatenate([pad, a.samples, pad]), 8000))
        rec = sphinx.recognize(from_line(line), grammar)
        heard[text] = (interpret(rec.transcript, table, lang.fillers).intent, rec.confidence)
    assert heard["go back"][0] == Intent.GO_BACK and heard["go back"][1] >= FLOOR, heard
    assert heard["no"][0] != Intent.GO_BACK, heard  # an answer, or not understood
