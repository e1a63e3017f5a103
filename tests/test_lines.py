"""The Line seam: the robot drives whole calls on scripted lines, and never crashes."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from dialer.lines import Dialled
from dialer.lines.fake import FakeLine
from dialer.robot.call import place_call
from dialer.robot.robot import Robot
from speech import dtmf
from speech.amd import beep
from speech.listener import Listener
from speech.recognizer import FakeRecognizer
from speech.tts import Synthesizer
from survey_scripts.model import Survey
from survey_scripts.vocabulary import Decision, Outcome


@pytest.fixture(scope="module")
def robot(survey: Survey) -> Robot:
    return Robot(survey, Synthesizer(), Listener(FakeRecognizer([])))  # never asked to decode


def _burst(seconds: float) -> np.ndarray:
    """Speech-like sound for the endpointer: loud, broadband enough, not a keypad tone."""
    rng = np.random.default_rng(int(seconds * 1000))
    return (rng.normal(0, 6000, int(seconds * 8000))).astype(np.int16)


def _call(robot: Robot, line: FakeLine, ext: str = "") -> object:
    return asyncio.run(asyncio.wait_for(place_call(robot, line, "+8613800138000", ext), 60))


def test_a_machine_gets_the_voicemail_message(robot: Robot) -> None:
    greeting = np.concatenate([_burst(4.0), np.zeros(3200, np.int16), beep()])
    line = FakeLine([(0.3, greeting)])
    record = _call(robot, line)
    assert record.outcome == Outcome.VOICEMAIL
    assert line.plays[-1][1] == robot.say(robot.survey.language.voicemail)
    assert line.plays[-1][0] > 4.3 + 0.4 + 0.5  # after the beep, not over the greeting
    assert line.hung_up_by_robot and record.turns == []


def test_a_hang_up_mid_prompt_ends_the_call_as_partial(robot: Robot) -> None:
    line = FakeLine([(0.2, _burst(0.5))], hangup_s=4.0)  # "hello?", then gone
    record = _call(robot, line)
    assert record.outcome == Outcome.PARTIAL
    assert [t.decision for t in record.turns] == [Decision.HUNG_UP]
    assert record.turns[0].heard.hangup and record.audio_s == pytest.approx(4.0, abs=0.05)


def test_a_line_silent_forever_is_asked_then_given_up(robot: Robot) -> None:
    record = _call(robot, FakeLine())
    assert record.outcome == Outcome.PARTIAL  # nobody refused: try again later
    assert [t.decision for t in record.turns] == [
        Decision.REPROMPTED, Decision.REPROMPTED, Decision.KEYPAD, Decision.UNANSWERED]
    assert all(t.heard.silent for t in record.turns)
    assert record.result.answers["consent"].value is None


def test_a_keypad_only_callee_completes_the_survey(robot: Robot) -> None:
    keys = {i: dtmf.tones("1") for i in range(20)}  # presses 1 after every prompt
    line = FakeLine([(0.2, _burst(0.5))], respond=keys)
    record = _call(robot, line)
    assert record.outcome == Outcome.COMPLETED
    assert {q: (a.value, a.how) for q, a in record.result.answers.items()} == {
        "consent": ("yes", "keypad"), "fever": ("yes", "keypad"), "fever_days": (1.0, "keypad"),
        "cough": ("yes", "keypad"), "breathing": ("yes", "keypad"),
        "taste_smell": ("yes", "keypad"), "contact": ("yes", "keypad"),
        "travel": ("none", "keypad")}
    assert {t.decision for t in record.turns} == {Decision.KEYED}


def test_an_early_answer_cuts_a_yes_no_prompt_short_but_not_its_echo(robot: Robot) -> None:
    """The line returns the robot's prompt 12 dB down: that echo is not the callee's
    speech; the keypress 3 s into the prompt is, and stops the prompt."""
    line = FakeLine([(0.2, _burst(0.5)), (1.5 + 3.0, dtmf.tones("1"))], echo=0.25)
    record = _call(robot, line)
    t = record.turns[0]
    assert t.started_s == pytest.approx(1.5, abs=0.05)  # after "hello?" and 0.8 s
    assert t.barged_in and t.answered_early and t.heard.digits == "1"
    assert t.speech_s is not None and t.speech_s[0] == pytest.approx(4.5, abs=0.06)
    assert t.speech_s[1] < 4.8  # the echo of the rest of the prompt is gone with it
    assert t.decision == Decision.KEYED
    quiet = FakeLine([(0.2, _burst(0.5))], echo=0.25, hangup_s=13.0)
    heard = _call(robot, quiet).turns[0]
    assert not heard.answered_early and not heard.barged_in  # echo alone: no speech


def test_an_unanswered_or_failing_line_is_no_survey(robot: Robot) -> None:
    for dialled, outcome in ((Dialled.BUSY, Outcome.BUSY), (Dialled.INVALID,
                                                            Outcome.INVALID_NUMBER),
                             (Dialled.FAILED, Outcome.DROPPED)):
        record = _call(robot, FakeLine(dialled=dialled))
        assert record.outcome == outcome and record.turns == []


def test_a_turn_keeps_what_the_recognizer_said(survey: Survey) -> None:
    from speech.recognizer import Recognition

    rejected = Recognition("", 0.0, rejected=True, raw="the garbage loop")
    robot = Robot(survey, Synthesizer(), Listener(FakeRecognizer([rejected])))
    line = FakeLine([(0.2, _burst(0.5))], respond={0: _burst(0.6)}, hangup_s=20.0)
    record = _call(robot, line)
    t = record.turns[0]
    assert t.recognition == rejected and t.decision == Decision.REPROMPTED
    assert not t.answered_early and not t.barged_in


def test_a_call_failing_or_cut_short_still_hangs_up(robot: Robot) -> None:
    class Breaks(FakeLine):
        async def receive(self, n: int) -> bytes:
            raise RuntimeError("the line's back-end broke")

    line = Breaks([(0.2, _burst(0.5))])
    with pytest.raises(RuntimeError):
        _call(robot, line)
    assert line.hung_up_by_robot

    class Slow(FakeLine):
        async def receive(self, n: int) -> bytes:
            await asyncio.sleep(0.01)  # the wall clock, as a real line
            return await super().receive(n)

    async def cut() -> FakeLine:
        slow = Slow()  # silent: the robot waits on it
        task = asyncio.create_task(place_call(robot, slow, "+8613800138000"))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return slow

    assert asyncio.run(cut()).hung_up_by_robot
