"""The simulated line: a Line whose far end is the simulated population.

The far end is a timeline of sound. On dialling, the network decides busy, no
answer, invalid or answered (population.network); behind an answered line is a
person (Callee) or an answering machine. A person's "hello?" starts the
timeline; each prompt the robot plays is heard by the callee from its audio (the
Ear), who answers after the prompt, or in the middle of it when answering early
(Habits.early). Answers are synthesized voices and keypad tones, with the
callee's pauses and room noise. The line carries the robot's own voice back as
an echo, as a telephone hybrid does. A contact behind a switchboard is put
through only when the robot's keypad tones spell its extension.

`duplex=False` gives the lines as they were before full duplex (no early answers,
no echo): the same seed then gives the same calls as then.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from dialer.executor import Priority, on_speech_thread, timed
from dialer.lines import NOT_ANSWERED, RING_TIMEOUT_S, Dialled, EndCause, Progress
from dialer.lines.pacing import FAST, Pacing
from dialer.lines.playout import LineBase
from dialer.lines.simulated.callee import Callee, Ear, Reply, SoundEar
from dialer.lines.simulated.persona import Persona
from dialer.lines.simulated.population import machine_greeting, network, persona
from dialer.wire import LineSpec, SimSpec
from speech import dtmf
from speech.audio import to_int16
from speech.channel import RATE, ulaw_encode
from speech.tts import Synthesizer
from survey_scripts.model import Survey

SIGNAL_S = {Dialled.INVALID: 2.0, Dialled.BUSY: 8.0, Dialled.NO_ANSWER: 30.0}  # line time
MACHINE_RECORDS_S = 60.0  # a machine records this long after its beep, then hangs up
SWITCHBOARD_WAIT_S = 6.0  # a switchboard waits this long for an extension's tones
ECHO_DELAY_S = (0.008, 0.04)  # a line's echo returns within this range (a local hybrid)


@dataclass
class Simulation:
    """What every simulated line of a process shares: the survey, voices, the callees' ear."""

    survey: Survey
    synth: Synthesizer
    ear: Ear | SoundEar
    duplex: bool = True  # early answers and echo
    prompts: dict[str, bytes] = field(default_factory=dict)  # the robot's, as heard


class SimulatedLine(LineBase):
    echo_delay_s = ECHO_DELAY_S[1]

    def __init__(self, sim: Simulation, spec: LineSpec, pacing: Pacing = FAST) -> None:
        super().__init__()
        self.sim, self.pacing = sim, pacing.fresh()
        self.paced = self.pacing.realtime
        sp = spec.sim or SimSpec()
        self.seed, self.contact, self.attempt = sp.seed, spec.contact, spec.attempt
        self.hour, self.ext = sp.hour, spec.ext
        self.duplex = sim.duplex and sp.callees == "duplex"
        self.cpu_s = 0.0
        self.callee: Callee | None = None
        self.replies: list[Reply] = []  # the simulation's side, for printing only
        self._t = 0  # line time in samples since the answer
        self._offset_s = 0.0  # ringing and signalling before the far end answered
        self._sound: list[tuple[int, np.ndarray]] = []  # far-end audio by start sample
        self._unheard: bytes | None = None  # a prompt the callee has still to hear
        self._hangup_at: int | None = None
        self._we_hung_up = False
        self._waiting_for: str | None = None  # a switchboard waiting for these tones
        rng = random.Random(f"{self.seed}:{self.contact}:{self.attempt}:line")
        self._echo = (int(rng.uniform(*ECHO_DELAY_S) * RATE), 10 ** (-rng.uniform(20, 35) / 20))
        self._early_rng = rng

    @classmethod
    def with_person(cls, sim: Simulation, who: Persona, attempt: int = 1,
                    pacing: Pacing = FAST, duplex: bool | None = None) -> SimulatedLine:
        """A line a person has just answered and waits on (no dialling, no machine, no
        "hello?"): the survey starts at once, as in accuracy runs."""
        callees = "duplex" if (sim.duplex if duplex is None else duplex) else "classic"
        line = cls(sim, LineSpec("simulated", who.seed, attempt, "",
                                 SimSpec(seed=0, callees=callees)), pacing)
        line.callee = Callee(who, sim.survey, sim.ear, attempt)
        return line

    # the far end --------------------------------------------------------------------
    async def dial(self, number: str, ring_timeout_s: float = RING_TIMEOUT_S) -> Dialled:
        status = network(self.seed, self.contact, self.attempt, self.hour)
        if status != "invalid":
            self.noted(Progress.RINGING, 0.0)
        if status in ("invalid", "busy", "no_answer"):
            dialled = Dialled(status)
            signal_s = min(SIGNAL_S[dialled], ring_timeout_s)
            await self.pacing.until(signal_s)
            self._offset_s = signal_s
            self.ended(NOT_ANSWERED[dialled])
            return dialled
        self.noted(Progress.ANSWERED, 0.0)
        self.pacing.start()
        if self.ext:
            self._waiting_for = self.ext
            self._hangup_at = int(SWITCHBOARD_WAIT_S * RATE)
        if status == "human":
            self.callee = Callee(persona(self.seed, self.contact, self.sim.survey),
                                 self.sim.survey, self.sim.ear, self.attempt)
        if not self.ext:
            await self._connect()
        return Dialled.ANSWERED

    async def _connect(self) -> None:
        """The person (or machine) behind the number is on the line from now."""
        if self.callee is not None:
            hello, cpu = await on_speech_thread(Priority.SIMULATOR, timed, self.callee.hello,
                                                self.sim.synth)
            self.cpu_s += cpu
            self._sound.append((self._t, hello))
            self._hangup_at = None
            return
        greeting, cpu = await on_speech_thread(Priority.SIMULATOR, timed, machine_greeting,
                                               self.seed, self.contact, self.sim.synth)
        self.cpu_s += cpu
        self._sound.append((self._t, greeting))
        self._hangup_at = self._t + len(greeting) + int(MACHINE_RECORDS_S * RATE)

    async def _hear(self, prompt: bytes) -> None:
        """The callee hears a prompt (from its audio) and answers: after it, or during it."""
        assert self.callee is not None
        (reply, sound), cpu = await on_speech_thread(Priority.SIMULATOR, timed, self._reply,
                                                     prompt)
        self.cpu_s += cpu
        self.replies.append(reply)
        end = self.out.at + len(prompt)
        if reply.kind == "hangup":
            self._hangup_at = end
            return
        start = end
        early = self.callee.p.habits.early
        if self.duplex and early and self.callee.heard_kind == "question" and \
                self._early_rng.random() < early:
            start = self.out.at + int(self._early_rng.uniform(0.5, 0.9) * len(prompt))
        start = max(start, self._t)  # heard over a real line: answered from now at once
        self._sound = [(at, x[:max(0, start - at)]) for at, x in self._sound]
        self._sound.append((start, sound))

    def _reply(self, prompt: bytes) -> tuple[Reply, np.ndarray]:
        assert self.callee is not None
        reply = self.callee.reply(prompt)
        if reply.kind == "hangup":
            return reply, np.zeros(0, dtype=np.int16)
        return reply, self.callee.render(reply, self.sim.synth)

    # the Line protocol ----------------------------------------------------------------
    def play(self, audio: bytes) -> None:
        # the callee falls quiet when the robot speaks (their last answer's trailing
        # room noise ends here: the simulation has no noise between answers)
        self._sound = [(at, x[:max(0, self._t - at)]) for at, x in self._sound]
        super().play(audio)
        if self.callee is not None:
            self._unheard = audio

    def heard(self, audio: bytes, at: int) -> None:
        """The simulation as the far end of a real line (dialer/simulation/farend.py): a
        prompt heard from the line's sound, which began at line sample `at` and has just
        ended; the callee answers from now on."""
        self._sound = [(a, x[:max(0, at - a)]) for a, x in self._sound]
        self.out.start(audio, at)
        if self.callee is not None:
            self._unheard = audio

    def echo_of(self, x: np.ndarray) -> np.ndarray:
        """The robot's voice as this line's hybrid returns it (a real line's far end adds
        it to what it sends)."""
        return x * self._echo[1] if self.duplex else np.zeros_like(x, dtype=np.float32)

    async def receive(self, n: int) -> bytes:
        if self._unheard is not None:
            prompt, self._unheard = self._unheard, None
            await self._hear(prompt)
        end = self._t + n
        if self._hangup_at is not None and self._hangup_at < end:
            end = max(self._t, self._hangup_at)
            self.ended(EndCause.WE_HUNG_UP if self._we_hung_up else EndCause.CALLEE_HUNG_UP)
        await self.pacing.until(end / RATE)
        x = self._mix(self._t, end)
        self._t = end
        if self._waiting_for and self.playing_left() == 0 and len(self.out.audio):
            await self._switchboard()
        return ulaw_encode(x)

    async def _switchboard(self) -> None:
        """A switchboard puts the call through when the robot's tones spell the extension."""
        if dtmf.detect(self.out.audio) == self._waiting_for:
            self._waiting_for = None
            await self._connect()

    def _mix(self, a: int, b: int) -> np.ndarray:
        x = np.zeros(b - a, dtype=np.float32)
        for at, sound in self._sound:
            lo, hi = max(a, at), min(b, at + len(sound))
            if lo < hi:
                x[lo - a:hi - a] += sound[lo - at:hi - at]
        if self.duplex and len(self.out.audio):
            self.out.mix_into(x, a, *self._echo)
        return to_int16(x / 32768)

    async def hangup(self) -> None:
        self.ended(EndCause.WE_HUNG_UP)
        self._we_hung_up = True
        self._hangup_at = self._t
        self.out.clear()

    def elapsed(self) -> int:
        return self._t

    def now(self) -> float:
        return self._offset_s + self._t / RATE
