"""After pick-up: is it a person or a machine? Decided from the opening audio alone."""

from __future__ import annotations

import numpy as np

from dialer.call import FAST, CallRecord, Clock, Robot, run_call
from dialer.callee import Callee
from dialer.speechthread import Priority, on_speech_thread
from speech.amd import classify_opening, find_beep
from speech.channel import RATE, ulaw_decode, ulaw_encode
from survey_scripts.dialog import Result


def _line(samples: np.ndarray) -> np.ndarray:
    """The opening as the robot receives it: through the mu-law channel."""
    return ulaw_decode(ulaw_encode(samples))


async def answered(robot: Robot, callee: Callee | None, machine: np.ndarray | None,
                   clock: Clock = FAST) -> tuple[str, CallRecord]:
    """("survey" | "voicemail", record): a person gets the survey, a machine a short message."""
    if callee is not None:
        opening = await on_speech_thread(Priority.SIMULATOR, callee.hello, robot.synth)
    else:
        assert machine is not None
        opening = machine
    heard = _line(opening)
    kind, used = await on_speech_thread(Priority.ROBOT, classify_opening, heard)
    if kind != "machine":
        await clock.sleep(used / RATE)
        assert callee is not None, "a machine was taken for a person"
        record = await run_call(robot, callee, clock)
        record.audio_s += used / RATE
        return "survey", record
    end = find_beep(heard[used:])
    waited = used + (end if end is not None else len(heard) - used)
    message = robot.say(robot.survey.language.voicemail)
    seconds = (waited + len(message)) / RATE
    await clock.sleep(seconds)
    return "voicemail", CallRecord(Result(), audio_s=seconds)
