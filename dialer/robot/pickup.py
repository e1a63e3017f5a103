"""After dialling: the extension, then is it a person or a machine? Decided from the audio.

A person answers with a short "hello?" and waits; a machine plays a long greeting
and then a beep. The robot tells them apart by how long the opening speech runs
(speech.amd), waits for the beep, and leaves a short message. A machine taken for
a person simply hears the survey, as it would from any robot on a real line.
"""

from __future__ import annotations

import numpy as np

from dialer.executor import Priority, on_speech_thread
from dialer.lines import Line
from dialer.robot.robot import Robot
from speech import dtmf
from speech.amd import find_beep, kind_of, opening
from speech.channel import RATE, ulaw_decode, ulaw_encode

BEEP_CHUNK = RATE // 2  # the beep is looked for every half second of greeting...
BEEP_WAIT_S = 30.0  # ...for at most this long; then the message is left anyway


async def drain(line: Line) -> bool:
    """Let what is playing play out; False if the far end hung up meanwhile."""
    while (left := line.playing_left()) > 0:
        if len(await line.receive(left)) < left:
            return False
    return True


async def dial_extension(line: Line, ext: str) -> bool:
    """The extension as keypad tones, once the switchboard has answered."""
    line.play(ulaw_encode(dtmf.tones(ext)))
    return await drain(line)


async def who_answered(line: Line) -> str:
    """"human" | "machine" | "silence" | "hangup", from the opening audio as it arrives."""
    feeder = opening()
    while not feeder.ep.over:
        want = feeder.samples_left()
        x = ulaw_decode(await line.receive(want))
        if len(x) < want:
            return "hangup"
        feeder.feed(x)
    return kind_of(feeder.ep)


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
