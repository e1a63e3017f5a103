"""The Line seam: the robot drives whole calls on scripted lines, and never crashes."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from dialer.lines import Dialled, EndCause, Progress
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
    for dialled, outcome, cause in (
            (Dialled.BUSY, Outcome.BUSY, EndCause.BUSY),
            (Dialled.INVALID, Outcome.INVALID_NUMBER, EndCause.INVALID),
            (Dialled.NO_ANSWER, Outcome.NO_ANSWER, EndCause.NO_ANSWER),
            (Dialled.FAILED, Outcome.DROPPED, EndCause.REFUSED)):  # the network's, not theirs
        record = _call(robot, FakeLine(dialled=dialled))
        assert record.outcome == outcome and record.turns == []
        assert record.end_cause == cause


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


# Line protocol version 2: call progress, end causes, keypad out of band ------------------


def test_early_media_then_answer_runs_no_machine_detection_on_the_greeting(robot: Robot) -> None:
    """A 5 s announcement in 183 early media, then a person answers: were the greeting heard
    as the opening, it would pass for a machine (over 2 s of speech)."""
    line = FakeLine([(0.2, _burst(0.5))], progress=[(0.5, Progress.RINGING),
                                                    (1.0, Progress.EARLY_MEDIA)],
                    early=_burst(5.0), answer_s=7.0, hangup_s=4.0)
    record = _call(robot, line)
    assert [step for _, step in record.progress] == [
        Progress.RINGING, Progress.EARLY_MEDIA, Progress.ANSWERED]
    assert record.outcome == Outcome.PARTIAL and record.turns  # the survey began: a person
    assert len(line.early_media) == 5 * 8000  # kept apart, never heard as the answer
    assert record.turns[0].started_s >= 7.0  # line time counts the ringing
    assert record.end_cause == EndCause.CALLEE_HUNG_UP


def test_early_media_then_busy_is_busy_and_no_survey(robot: Robot) -> None:
    line = FakeLine(progress=[(0.5, Progress.EARLY_MEDIA)], early=_burst(3.0),
                    dialled=Dialled.BUSY, answer_s=4.0)
    record = _call(robot, line)
    assert record.outcome == Outcome.BUSY and record.turns == [] and line.plays == []
    assert record.end_cause == EndCause.BUSY and record.audio_s == pytest.approx(4.0)


def test_a_ring_timeout_cancels_the_call_as_no_answer(robot: Robot) -> None:
    line = FakeLine(progress=[(0.5, Progress.RINGING)], answer_s=None)  # rings for ever
    record = asyncio.run(place_call(robot, line, "+8613800138000", ring_timeout_s=25.0))
    assert record.outcome == Outcome.NO_ANSWER and line.cancelled
    assert record.end_cause == EndCause.NO_ANSWER and record.audio_s == pytest.approx(25.0)
    late = FakeLine([(0.2, _burst(0.5))], answer_s=40.0, hangup_s=3.0)  # after the timeout
    assert asyncio.run(place_call(robot, late, "+1", ring_timeout_s=25.0)).outcome == \
        Outcome.NO_ANSWER
    in_time = FakeLine([(0.2, _burst(0.5))], answer_s=20.0, hangup_s=3.0)
    assert asyncio.run(place_call(robot, in_time, "+1", ring_timeout_s=25.0)).outcome == \
        Outcome.PARTIAL


def test_a_line_lost_mid_question_is_dropped_never_partial(robot: Robot) -> None:
    """Consent answered, then the line dies while the callee answers: not their doing."""
    line = FakeLine([(0.2, _burst(0.5))], respond={0: dtmf.tones("1")}, lost_s=14.0)
    record = _call(robot, line)
    assert record.end_cause == EndCause.LINE_LOST
    assert record.outcome == Outcome.DROPPED and record.reason == "the line was lost mid-call"
    assert record.result.answers["consent"].value == "yes"  # heard, but the call is redone
    from dialer.robot.outcome import outcome_of
    from dialer.wire import CallJob

    sent = outcome_of(CallJob("c:1:1", 1, 1, "+1", "", 0.0), record)
    assert sent.outcome == "dropped" and sent.answers == () and sent.risk is None
    assert sent.end_cause == "line_lost"
    same_time_hangup = _call(robot, FakeLine([(0.2, _burst(0.5))],
                                             respond={0: dtmf.tones("1")}, hangup_s=14.0))
    assert same_time_hangup.outcome == Outcome.PARTIAL  # the callee's hang-up is theirs
    assert same_time_hangup.end_cause == EndCause.CALLEE_HUNG_UP


def test_the_far_end_hanging_up_mid_prompt_is_the_callees_end(robot: Robot) -> None:
    line = FakeLine([(0.2, _burst(0.5))], hangup_s=3.0)  # the first prompt starts at ~1.5 s
    record = _call(robot, line)
    assert record.end_cause == EndCause.CALLEE_HUNG_UP and record.outcome == Outcome.PARTIAL
    assert record.turns[0].heard.hangup and record.turns[0].started_s < 3.0
    assert line.plays[0][1] != b"" and line.hung_up_by_robot  # we still hang up after
    done = _call(robot, FakeLine([(0.2, _burst(0.5))], respond={0: dtmf.tones("2")}))
    assert done.outcome == Outcome.REFUSED and done.end_cause == EndCause.WE_HUNG_UP


def test_keypad_out_of_band_both_ways(robot: Robot) -> None:
    """RFC 4733 keys: the callee's arrive as events with silent audio and answer every
    question; the robot's extension goes out as events, not tones."""
    keys = [(1.6 + 8.0 * k, "1") for k in range(40)]  # one press every 8 s, from 1.6 s
    line = FakeLine([(0.2, _burst(0.5))], keys=keys, out_of_band=True, hangup_s=400.0)
    record = _call(robot, line, ext="204")
    assert line.sent_digits == ["204"] and line.plays[0][1] != b""
    assert record.outcome == Outcome.COMPLETED
    assert {a.how for a in record.result.answers.values()} == {"keypad"}
    assert record.result.answers["consent"].value == "yes"
    keyed = [t for t in record.turns if t.heard.digits]
    assert keyed and all(t.heard.digits == "1" and t.heard.confidence == 1.0 for t in keyed)
    assert any(t.barged_in for t in keyed)  # a key during a yes/no prompt cuts it short


def test_two_keys_out_of_band_make_one_answer(robot: Robot) -> None:
    """Keys within KEY_GAP_S of each other are one answer ("42"), as in-band tones are."""
    from dialer.robot.turn import KEY_GAP_S, take_turn
    from survey_scripts.dialog import Dialog

    prompt = next(Dialog(robot.survey).run())  # the first question
    line = FakeLine(keys=[(8.0, "4"), (8.0 + KEY_GAP_S / 2, "2")], hangup_s=60.0)
    asyncio.run(line.dial("+1"))
    log, _ = asyncio.run(take_turn(robot, line, prompt))
    assert log.heard.digits == "42" and log.heard.confidence == 1.0
    assert log.ended_s == pytest.approx(8.0 + KEY_GAP_S / 2 + KEY_GAP_S, abs=0.01)
    assert log.speech_s == pytest.approx((8.0, 8.0 + KEY_GAP_S / 2), abs=0.001)


def test_the_echo_gate_waits_for_the_lines_echo_delay(robot: Robot) -> None:
    """An echo 200 ms late (a network round trip), 12 dB down: gated for the line's delay,
    it is not taken for the callee answering, during the prompt or after it; a line that
    says its echo is prompt (the fixed 80 ms of before) takes it for speech."""
    late = FakeLine([(0.2, _burst(0.5))], echo=0.25, echo_delay_s=0.2, hangup_s=40.0)
    turn = _call(robot, late).turns[0]
    assert not turn.answered_early and turn.heard.silent
    wrong = FakeLine([(0.2, _burst(0.5))], echo=0.25, echo_late_s=0.2, hangup_s=40.0)
    with pytest.raises(IndexError):  # the recognizer (scripted: nothing) was asked to decode
        _call(robot, wrong)


def test_the_recording_places_plays_by_the_lines_clock(robot: Robot) -> None:
    from dialer.robot.recorder import RecordingLine

    line = FakeLine([(0.2, _burst(0.5))], respond={0: dtmf.tones("1")}, hangup_s=12.0,
                    answer_s=3.0)
    tap = RecordingLine(line)
    record = _call(robot, tap)  # type: ignore[arg-type]
    first = tap.plays[0][0]
    assert first == round((record.turns[0].started_s - 3.0) * 8000)
    assert tap.end_cause == EndCause.CALLEE_HUNG_UP and tap.progress == line.progress
