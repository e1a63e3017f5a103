"""After dialling: the extension, then is it a person or a machine? Decided from the audio.

A person answers with a short "hello?" and waits; a machine plays a long greeting
and then a beep. The robot tells them apart by how long the opening speech runs
(speech.amd), waits for the beep, and leaves a short message. A machine taken for
a person simply hears the survey, as it would from any robot on a real line.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

from dialer.executor import Priority, on_speech_thread
from dialer.lines import Line
from dialer.robot.robot import Robot
from speech.amd import find_beep, kind_of, opening
from speech.channel import RATE, ulaw_decode

BEEP_CHUNK = RATE // 2  # the beep is looked for every half second of greeting...
BEEP_WAIT_S = 30.0  # ...for at most this long; then the message is left anyway


async def drain(line: Line) -> bool:
    """Let what is playing play out; False if the far end hung up meanwhile."""
    while (left := line.playing_left()) > 0:
        if len(await line.receive(left)) < left:
            return False
    return True


class Answered(StrEnum):
    """Who is on the line once it answered, as the opening audio tells."""

    HUMAN = "human"
    MACHINE = "machine"
    SILENCE = "silence"
    HANGUP = "hangup"


async def dial_extension(line: Line, ext: str) -> bool:
    """The extension as keypad tones (in band or out, as the line carries them), once the
    switchboard has answered."""
    line.send_digits(ext)
    return await drain(line)


async def who_answered(line: Line) -> Answered:
    """From the opening audio after the answer, as it arrives; early media (a greeting
    played before the answer) never reaches here, so it cannot pass for a machine."""
    feeder = opening()
    while not feeder.ep.over:
        want = feeder.samples_left()
        x = ulaw_decode(await line.receive(want))
        if len(x) < want:
            return Answered.HANGUP
        feeder.feed(x)
    return Answered(kind_of(feeder.ep))


async def leave_message(robot: Robot, line: Line) -> None:
    """Wait for the machine's beep, say the voicemail message, hang up."""
    heard: list[np.ndarray] = []
    for _ in range(int(BEEP_WAIT_S * RATE / BEEP_CHUNK)):
        x = ulaw_decode(await line.receive(BEEP_CHUNK))
        if len(x) < BEEP_CHUNK:
            return
        heard.append(x)
        found = await on_speech_thread(Priority.ROBOT, find_beep, np.concatenate(heard), 0.2,
                                       False)
        if found is not None:
            break
    line.play(robot.say(robot.survey.language.voicemail))
    await drain(line)
