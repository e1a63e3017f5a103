"""Keypad surveys: a survey (or a language, or a question) answered with keys only, in
any language; the Mandarin COVID-19 survey run end to end on simulated calls, the
robot deciding from the tones in the audio."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dialer.cli import main
from speech.engines import choose
from survey_scripts.dialog import Heard, Outcome, PromptKind
from survey_scripts.errors import SurveyError
from survey_scripts.loader import load_survey, load_survey_text
from survey_scripts.model import Survey
from survey_scripts.vocabulary import Decision
from tests.conftest import ROOT
from tests.test_survey_scripts import drive

ZH = ROOT / "survey_scripts" / "covid19_symptoms_zh.yaml"


@pytest.fixture(scope="module")
def zh() -> Survey:
    return load_survey(ZH)


def keys(k: str) -> Heard:
    return Heard(digits=k, confidence=1.0)


def test_a_keypad_survey_needs_no_recognizer_and_says_its_keys(zh: Survey) -> None:
    assert zh.keys_only and choose(None, None, "zh", zh.keys_only).engine == "keypad"
    result, prompts = drive(zh, [keys("1"), keys("1"), keys("3#"), keys("1"), keys("2"),
                                 keys("2"), keys("2"), keys("2"), keys("4"), Heard()])
    assert result.outcome == Outcome.COMPLETED
    assert result.values() == {"consent": "yes", "fever": "yes", "fever_days": 3.0,
                               "cough": "no", "breathing": "no", "taste_smell": "no",
                               "contact": "no", "travel": "abroad"}
    assert "请按九" in prompts[0].text and prompts[0].text.endswith("是请按一，不是请按二。")
    assert prompts[0].listen.phrases == ()  # nothing for a recognizer to listen for
    readback = prompts[3]
    assert readback.kind == PromptKind.CONFIRM and "3天" in readback.text.replace(" ", "")
    assert result.risk == "yellow"


def test_keys_reprompt_opt_out_and_unanswered_is_not_no(zh: Survey) -> None:
    result, prompts = drive(zh, [keys("1"), Heard(transcript="", confidence=0.0),
                                 Heard(silent=True), Heard(silent=True), keys("9"), Heard()])
    assert [p.kind for p in prompts[1:4]] == [PromptKind.QUESTION, PromptKind.REPROMPT,
                                              PromptKind.REPROMPT]
    assert result.outcome == Outcome.OPTED_OUT
    assert [d.decision for d in result.decisions][-1] == Decision.OPTED_OUT
    result, _ = drive(zh, [keys("1"), Heard(silent=True), Heard(silent=True),
                           Heard(silent=True), keys("2"), keys("2"), keys("2"), keys("2"),
                           keys("1"), Heard()])
    assert result.answers["fever"].value is None and result.answers["fever"].how == \
        "unanswered"
    assert result.risk == "unknown"  # fever unanswered: never read as a "no"
    denied, _ = drive(zh, [keys("1"), keys("1"), keys("7#"), keys("2"), keys("5#"), keys("1"),
                           keys("2"), keys("2"), keys("2"), keys("2"), keys("1"), Heard()])
    assert denied.values()["fever_days"] == 5.0  # 7 denied on the read-back, 5 confirmed


def test_a_keypad_survey_must_say_how_to_opt_out() -> None:
    text = ZH.read_text(encoding="utf-8").replace(
        "  keypad_opt_out: 如果您不希望再接到我们的电话，请按九。\n", "")
    with pytest.raises(SurveyError, match="keypad_opt_out"):
        load_survey_text(text, "zh.yaml")


def test_the_mandarin_keypad_survey_end_to_end(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Simulated callees hear espeak-ng's Mandarin and press keys; the robot hears the
    tones in the audio (in-band DTMF through the 8 kHz channel) and no recognizer."""
    assert main(["accuracy", "--script", str(ZH), "--calls", "24", "--json",
                 "--processes", "1"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["asked"] > 100 and got["wrong"] == 0 and got["decisions"]["keyed"] > 100
    assert got["correct"] >= 0.97 * got["asked"]


def test_a_keypad_survey_takes_keys_sent_out_of_band(zh: Survey) -> None:
    """RFC 4733 keys, as a SIP line delivers them, answer the Mandarin survey: the robot
    decodes nothing (it has no recognizer), and a key cuts the prompt it answers."""
    import asyncio

    import numpy as np

    from dialer.lines.fake import FakeLine
    from dialer.robot.call import place_call
    from dialer.robot.robot import build_robot
    from dialer.wire import EngineSpec

    robot = build_robot(zh, EngineSpec("keypad"))
    presses = ["1", "2", "2", "2", "2", "2", "4"]  # consent, then no symptom, abroad
    keys = [(2.0 + 4.0 * i, k) for i, k in enumerate(presses)]
    hello = (0.2, (np.random.default_rng(1).normal(0, 6000, 4000)).astype(np.int16))
    line = FakeLine([hello], keys=keys, out_of_band=True, hangup_s=120.0)
    record = asyncio.run(asyncio.wait_for(place_call(robot, line, "+8613800138000"), 60))
    assert record.outcome == Outcome.COMPLETED
    assert record.result.values() == {"consent": "yes", "fever": "no", "cough": "no",
                                      "breathing": "no", "taste_smell": "no",
                                      "contact": "no", "travel": "abroad"}
    assert all(t.recognition is None for t in record.turns)  # nothing was decoded
    assert sum(t.barged_in for t in record.turns) >= 5
