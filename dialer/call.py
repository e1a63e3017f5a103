"""One call as it happens on a line: the robot speaks, listens and decides from audio alone."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from dialer.callee import Callee, Reply
from dialer.meter import Meter
from dialer.speechthread import Priority, on_speech_thread
from speech.channel import RATE, to_line, ulaw_decode, ulaw_encode
from speech.listener import Listener
from speech.recognizer import Grammar
from speech.tts import Synthesizer, Voice
from survey_scripts.dialog import Dialog, Heard, Prompt, Result, every_prompt
from survey_scripts.model import Survey

T = TypeVar("T")


@dataclass(frozen=True)
class TurnLog:
    prompt: Prompt
    heard: Heard
    callee: Reply  # the simulation's side: for reports only, never for decisions


@dataclass
class CallRecord:
    result: Result
    turns: list[TurnLog] = field(default_factory=list)
    audio_s: float = 0.0  # line time, both directions
    cpu_s: float = 0.0  # CPU of the robot and the simulated callee for this call
    # realtime clock only: from the end of each answer (the frame that ended the turn
    # arriving) to the next prompt starting
    latency_s: list[float] = field(default_factory=list)


class Robot:
    """The survey robot's voice and ears; models load once and serve many calls."""

    def __init__(self, survey: Survey, synth: Synthesizer, listener: Listener) -> None:
        self.survey = survey
        self.synth = synth
        self.listener = listener
        lang = survey.language
        self.voice = Voice("espeak", lang.voice, lang.rate)
        self._lines: dict[str, bytes] = {}
        # espeak-ng carries state from one utterance to the next (its pitch flutter), so a
        # prompt's waveform would depend on what was said before it. Saying every prompt
        # once, in a fixed order, at start makes every process sound the same.
        for said in every_prompt(survey):
            self.say(said.text)
        self.say(lang.voicemail)

    def say(self, text: str) -> bytes:
        """The prompt as it goes down the line (8 kHz mu-law), made once per text."""
        if text not in self._lines:
            self._lines[text] = to_line(self.synth.speak(text, self.voice))
        return self._lines[text]

    def hear(self, incoming: bytes, prompt: Prompt) -> Heard:
        return self.listener.listen(ulaw_decode(incoming), self.grammar(prompt)).heard

    def grammar(self, prompt: Prompt) -> Grammar:
        assert prompt.listen is not None
        return Grammar(prompt.listen.key, prompt.listen.phrases, self.survey.language.fillers)


class Clock:
    """Fast: simulated time, nothing waits. Realtime: audio is paced by the wall clock,
    `speed` times faster than life (tests run a realtime call at 8x)."""

    def __init__(self, realtime: bool = False, speed: float = 1.0,
                 meter: Meter | None = None) -> None:
        self.realtime = realtime
        self.speed = speed
        self.meter = meter

    async def sleep(self, seconds: float) -> None:
        if self.realtime and seconds > 0:
            await asyncio.sleep(seconds / self.speed)

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def until(self, mark: float, line_s: float) -> None:
        """Wait until `line_s` of line time after `mark`; a meter notes how late it woke."""
        deadline = mark + line_s / self.speed
        if deadline > self.now():
            await asyncio.sleep(deadline - self.now())
        if self.meter:
            self.meter.woke(max(0.0, self.now() - deadline))


FAST = Clock()


def exchange(robot: Robot, callee: Callee, prompt: Prompt) -> tuple[Heard, Reply, float]:
    """One turn, blocking: prompt audio out, the callee's audio back, what the robot heard."""
    out = robot.say(prompt.text)
    reply, incoming = _reply(robot, callee, out)
    if reply.kind == "hangup":
        return Heard(hangup=True), reply, len(out) / RATE
    heard = robot.hear(incoming, prompt)
    return heard, reply, (len(out) + len(incoming)) / RATE


def _reply(robot: Robot, callee: Callee, out: bytes) -> tuple[Reply, bytes]:
    """The simulator's side of a turn: what the callee heard, and its answer on the line."""
    reply = callee.reply(out)
    if reply.kind == "hangup":
        return reply, b""
    return reply, ulaw_encode(callee.render(reply, robot.synth))


async def live_turn(robot: Robot, callee: Callee, prompt: Prompt, clock: Clock,
                    record: CallRecord) -> tuple[Heard, Reply]:
    """One turn on the wall clock: the prompt plays, the answer arrives as it is spoken,
    the robot endpoints it as it comes and recognizes once the turn is over."""
    out = robot.say(prompt.text)
    started = clock.now()
    # the callee prepares its answer while the prompt plays; the robot's work goes first
    (reply, incoming), cpu = await on_speech_thread(
        Priority.SIMULATOR, _timed, _reply, robot, callee, out)
    record.cpu_s += cpu
    record.audio_s += len(out) / RATE
    await clock.until(started, len(out) / RATE)
    if reply.kind == "hangup":
        return Heard(hangup=True), reply
    hearing = robot.listener.hearing(robot.grammar(prompt))
    line = ulaw_decode(incoming)
    t0, fed = clock.now(), 0
    while fed < len(line) and not hearing.over:
        # wake only when the turn could be over: no decision comes later than it would
        # packet by packet, and a thousand lines wake a few times a second, not 50
        upto = min(len(line), fed + hearing.samples_left())
        await clock.until(t0, upto / RATE)
        hearing.feed(line[fed:upto])
        fed = upto
    ended = t0 + hearing.listened_s / clock.speed
    turn, cpu = await on_speech_thread(Priority.ROBOT, _timed, hearing.finish)
    record.cpu_s += cpu
    record.audio_s += hearing.listened_s
    record.latency_s.append(clock.now() - ended)  # the next prompt starts now
    if clock.meter:
        clock.meter.turn(record.latency_s[-1])
    return turn.heard, reply


def _timed(fn: Callable[..., T], *args: object) -> tuple[T, float]:
    start = time.thread_time()
    return fn(*args), time.thread_time() - start


async def run_call(robot: Robot, callee: Callee, clock: Clock = FAST) -> CallRecord:
    """Drive the dialog engine over the line until it ends; blocking work stays off the loop."""
    flow = Dialog(robot.survey).run()
    record = CallRecord(Result())
    prompt = next(flow)
    while True:
        if prompt.listen is None:  # a goodbye: say it, nothing to hear
            seconds = len(robot.say(prompt.text)) / RATE
            record.audio_s += seconds
            await clock.sleep(seconds)
            heard = Heard(hangup=True)
            reply = Reply("hangup")
        elif clock.realtime:
            heard, reply = await live_turn(robot, callee, prompt, clock, record)
            record.turns.append(TurnLog(prompt, heard, reply))
        else:
            (heard, reply, seconds), cpu = await on_speech_thread(
                Priority.ROBOT, _timed, exchange, robot, callee, prompt)
            record.cpu_s += cpu
            record.audio_s += seconds
            record.turns.append(TurnLog(prompt, heard, reply))
        try:
            prompt = flow.send(heard)
        except StopIteration as stop:
            record.result = stop.value
            return record


