"""One call as it happens on a line: the robot speaks, listens and decides from audio alone."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from dialer.callee import Callee, Reply
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
        assert prompt.listen is not None
        grammar = Grammar(prompt.listen.key, prompt.listen.phrases, self.survey.language.fillers)
        return self.listener.listen(ulaw_decode(incoming), grammar).heard


class Clock:
    """Fast: simulated time, nothing waits. Realtime: audio is paced by the wall clock."""

    def __init__(self, realtime: bool = False) -> None:
        self.realtime = realtime

    async def sleep(self, seconds: float) -> None:
        if self.realtime and seconds > 0:
            await asyncio.sleep(seconds)


FAST = Clock()


def exchange(robot: Robot, callee: Callee, prompt: Prompt) -> tuple[Heard, Reply, float]:
    """One turn, blocking: prompt audio out, the callee's audio back, what the robot heard."""
    out = robot.say(prompt.text)
    reply = callee.reply(out)
    if reply.kind == "hangup":
        return Heard(hangup=True), reply, len(out) / RATE
    incoming = ulaw_encode(callee.render(reply, robot.synth))
    heard = robot.hear(incoming, prompt)
    return heard, reply, (len(out) + len(incoming)) / RATE


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
        else:
            (heard, reply, seconds), cpu = await asyncio.to_thread(
                _timed, exchange, robot, callee, prompt)
            record.cpu_s += cpu
            record.audio_s += seconds
            await clock.sleep(seconds)
            record.turns.append(TurnLog(prompt, heard, reply))
        try:
            prompt = flow.send(heard)
        except StopIteration as stop:
            record.result = stop.value
            return record


