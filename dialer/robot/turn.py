"""One turn on a full-duplex line: the prompt plays while the callee's audio keeps arriving.

While the prompt plays the robot looks for the callee's speech, its own echo
gated out (speech.endpoint.FrameFeeder). Where the prompt allows barge-in, speech
stops the prompt at once and is heard from its start; where it does not, the
prompt plays out and an answer begun during it is still heard from its start.
With no speech during the prompt, listening starts when the prompt ends. The turn
is over when the callee has finished (0.7 s of silence), said nothing for 5 s,
or hung up; recognition runs on the robot's speech executor.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from dialer.executor import Priority, on_speech_thread, timed
from dialer.lines import Digit, Line
from dialer.robot.robot import Robot
from speech.channel import RATE, ulaw_decode
from speech.endpoint import FRAME, Endpointer, EndpointParams, FrameFeeder, State
from speech.listener import Hearing
from speech.recognizer import Recognition
from survey_scripts.turns import Heard, Prompt
from survey_scripts.vocabulary import Decision

CHUNK = 2000  # samples (250 ms): how often speech is looked for while a prompt plays
MARGIN = 5  # frames kept before speech that began during a prompt
_DURING = EndpointParams(no_input_s=1e9)  # speech may start at any moment of a prompt
KEY_GAP_S = EndpointParams().end_silence_s  # out-of-band keys: the answer is over after this


@dataclass
class TurnLog:
    """One turn as the robot lived it, all in line time (seconds since dialling)."""

    prompt: Prompt
    heard: Heard
    started_s: float  # the prompt started playing
    listened_from_s: float  # the robot's hearing of the answer starts here
    speech_s: tuple[float, float] | None  # the callee's speech, as endpointed
    ended_s: float  # the turn was over (the frame that ended it arrived)
    barged_in: bool = False  # the callee's speech cut the prompt short
    answered_early: bool = False  # the callee's speech began while the prompt played
    recognition: Recognition | None = None
    latency_s: float | None = None  # paced lines: end of the answer to the next prompt
    decision: Decision | None = None  # filled in from the dialog's decisions
    interpreted: str | None = None  # what the dialog took the turn to mean


async def take_turn(robot: Robot, line: Line, prompt: Prompt) -> tuple[TurnLog, float]:
    """Play the prompt, hear the answer; the turn's log and the robot's CPU seconds."""
    out = robot.say(prompt.text)
    started = line.now()
    line.play(out)
    barge = robot.barge_in(prompt)
    reference = ulaw_decode(out)  # what the line carries of the robot: its echo's source
    onset = FrameFeeder(Endpointer(_DURING), line.echo_delay_s)
    during: list[np.ndarray] = []
    keys: list[Digit] = []
    barged = False
    while (left := line.playing_left()) > 0:
        want = min(left, CHUNK) if barge else left
        x = ulaw_decode(await line.receive(want))
        during.append(x)
        onset.feed(x, _echo_source(reference, line.played(), len(x)))
        keys += line.digits()
        if len(x) < want:  # the call ended while the prompt played
            return _hung_up(prompt, started, line), 0.0
        if barge and (keys or onset.ep.state != State.WAITING):
            line.stop()
            barged = True
            break
    if keys:  # keys out of band began the answer while the prompt played
        return await _keyed(line, prompt, started, keys, barged, True), 0.0
    hearing = robot.listener.hearing(robot.grammar(prompt), line.echo_delay_s)
    heard_from = line.now()
    if onset.ep.state != State.WAITING:  # the answer began while the prompt played
        audio = np.concatenate(during)
        first = max(0, (onset.ep.start - MARGIN) * FRAME)
        hearing.feed(audio[first:], reference[first:len(audio)])
        heard_from = started + first / RATE
    else:  # the prompt's last words still echo back on a slow line
        hearing.after_prompt(reference[:line.played()], line.echo_delay_s)
    log, cpu = await _listen(robot, line, prompt, hearing, started, heard_from, barged)
    log.answered_early = onset.ep.state != State.WAITING
    return log, cpu


async def _listen(robot: Robot, line: Line, prompt: Prompt, hearing: Hearing, started: float,
                  heard_from: float, barged: bool) -> tuple[TurnLog, float]:
    while not hearing.over:
        want = hearing.samples_left()
        x = ulaw_decode(await line.receive(want))
        if keys := line.digits():  # an answer on the keypad, out of band
            return await _keyed(line, prompt, started, keys, barged, False), 0.0
        if len(x) < want:
            hearing.feed(x)
            return _hung_up(prompt, started, line), 0.0
        hearing.feed(x)
    arrived = time.monotonic()  # the frame that ended the turn is here
    ended = line.now()
    turn, cpu = await on_speech_thread(Priority.ROBOT, timed, hearing.finish)
    if turn.recognition is not None:  # decoded in a decoder process: its CPU is the call's
        cpu += turn.recognition.cpu_s
    span = hearing.speech_span_s
    log = TurnLog(prompt, turn.heard, started, heard_from,
                  None if span is None else (heard_from + span[0], heard_from + span[1]),
                  ended, barged_in=barged, recognition=turn.recognition)
    if line.paced:  # the next prompt starts now
        log.latency_s = time.monotonic() - arrived
    return log, cpu


async def _keyed(line: Line, prompt: Prompt, started: float, keys: list[Digit],
                 barged: bool, early: bool) -> TurnLog:
    """Keys received out of band: the answer is over once no key came for KEY_GAP_S
    (the in-band path's end of speech), or the call ended."""
    gap = int(KEY_GAP_S * RATE)
    while (wait := keys[-1].at + gap - line.elapsed()) > 0:
        got = len(await line.receive(wait))
        keys += line.digits()
        if got < wait:
            break
    answered = line.now() - line.elapsed() / RATE  # line time of the answer
    first, last = answered + keys[0].at / RATE, answered + keys[-1].at / RATE
    heard = Heard(digits="".join(k.key for k in keys), confidence=1.0)
    return TurnLog(prompt, heard, started, first, (first, last), line.now(), barged_in=barged,
                   answered_early=early)


def _echo_source(reference: np.ndarray, played: int, n: int) -> np.ndarray:
    """What the robot played at the moments of the `n` samples just received, by the
    line's playout position; silence where they arrived before this prompt began (a
    paced line hands over audio that waited while the robot was busy)."""
    ref = reference[max(0, played - n):played]
    return ref if len(ref) == n else np.concatenate([np.zeros(n - len(ref), np.int16), ref])


def _hung_up(prompt: Prompt, started: float, line: Line) -> TurnLog:
    now = line.now()
    return TurnLog(prompt, Heard(hangup=True), started, now, None, now)

