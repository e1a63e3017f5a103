"""The simulated population as SIP user agents on 127.0.0.1: the far end of
`demo --line sip`, so a whole campaign runs over SIP and RTP on this machine.

One process, one baresip stack listening on 127.0.0.1, one user agent per number
that exists (a number that does not gets SIP's own 404). Each INVITE carries the
simulation's part of the call (X-Healthdial-Sim: who this is, which attempt, the
planned hour); the population decides as on the direct line: busy is a 486, no
answer rings until the robot's CANCEL, a person or a machine answers. Behind an
answered call a SimulatedLine is the person, driven by what arrives over RTP:

- the robot's voice is cut into prompts where it falls silent for GAP_S (the longest
  pause inside a prompt is 0.42 s); each prompt is heard (the callee's ear, from
  its sound) when it has ended, so callees never answer early over SIP; a prompt
  not known by its codes is heard in an ear process of its own (EarProcess): a
  decode holds the GIL for a tenth of a second or more, and this process's RTP
  pump must not wait on it;
- keypad events (RFC 4733) become tones the callee hears, as on the direct line;
- what the callee says, with the hybrid's echo of the robot, goes back as RTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing as mp
import socket
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dialer.executor import install
from dialer.lines.pacing import FAST
from dialer.lines.simulated import SimulatedLine, Simulation, build_simulation
from dialer.lines.simulated.callee import Ear, PromptMeaning
from dialer.lines.simulated.population import invalid, network
from dialer.lines.sip.line import SIM_HEADER
from dialer.simulation.prompts import SHORTEST, KnownPrompts, Prompts
from dialer.store import Store
from dialer.wire import LineSpec, SimSpec
from speech import dtmf
from speech.audio import to_int16
from speech.channel import RATE, ulaw_decode, ulaw_encode
from survey_scripts.errors import EngineError

log = logging.getLogger(__name__)
TICK_S = 0.1  # the pump's period (what is queued to send covers three)
FAR_RTP = (30000, 39999)  # the far end's RTP ports (the robot's trunk: 20000-29999)


@dataclass(frozen=True)
class Who:
    seed: int
    contact: int
    attempt: int
    hour: int
    callees: str
    ext: str

    @classmethod
    def parse(cls, header: str) -> Who:
        seed, contact, attempt, hour, callees, ext = header.split(";", 5)
        return cls(int(seed), int(contact), int(attempt), int(hour), callees, ext)

    def spec(self) -> LineSpec:
        return LineSpec("simulated", self.contact, self.attempt, self.ext,
                        SimSpec(self.seed, self.hour, self.callees))


class FarEnd:
    """The population's side of every call of one campaign, in this process."""

    def __init__(self, sim: Simulation, numbers: dict[str, int], seed: int,
                 ear: EarProcess | None = None) -> None:
        self.sim, self.seed, self.ear = sim, seed, ear
        self.known = KnownPrompts(sim.prompts)
        self.numbers = {n: c for n, c in numbers.items() if not invalid(seed, c)}
        self.calls: set[asyncio.Task[None]] = set()
        self.answered = 0

    async def serve(self, port: int, rtp: tuple[int, int], ready: Any, stop: Any) -> None:
        from baresip import Account, Config, Runtime, UserAgent

        install()
        runtime = Runtime()
        await runtime.start(Config(
            net_interface="127.0.0.1", max_concurrent_calls=None, rtp_timeout=10,
            expose_headers=(SIM_HEADER,),
            extra_config_text=f"sip_listen 127.0.0.1:{port}\nrtp_ports {rtp[0]}-{rtp[1]}\n"))
        try:
            for number in self.numbers:  # a number nobody answers for: SIP's 404
                ua = await UserAgent.create(runtime, Account(
                    number, f"127.0.0.1:{port}", "", reg_interval=0, audio_codecs=("pcmu",)))
                ua.on_incoming(self._incoming)
            ready.set()
            while not stop.is_set():  # noqa: ASYNC110 (a multiprocessing event)
                await asyncio.sleep(0.2)
        finally:
            for task in list(self.calls):
                task.cancel()
            await runtime.close()

    def _incoming(self, call: Any) -> None:
        task = asyncio.create_task(self._call(call), name="far end")
        self.calls.add(task)
        task.add_done_callback(self.calls.discard)

    async def _call(self, call: Any) -> None:
        from baresip import BaresipError

        try:
            who = Who.parse(call.headers.get(SIM_HEADER, ""))
        except ValueError:
            await call.reject()  # not a call of the simulation
            return
        status = network(who.seed, who.contact, who.attempt, who.hour)
        try:
            if status == "busy":
                await call.reject()
            elif status in ("human", "machine"):
                await self._answered(call, who)
            # no answer: it rings until the robot's CANCEL
        except BaresipError as e:  # the robot hung up first
            log.debug("far end call %s: %s", who.contact, e)

    async def _answered(self, call: Any, who: Who) -> None:
        line = SimulatedLine(self.sim, who.spec(), FAST)
        await line.dial("")  # the population decides who is there (as on the direct line)
        keys: list[str] = []
        call.on_dtmf(lambda d: keys.append(d.digit))
        call.on_audio_warning(lambda w: log.warning("far end audio: %s", w.message))
        await call.answer()
        self.answered += 1
        await Bridge(call, line, keys, self.known, self.ear).run()


class Bridge:
    """One answered call: RTP in to the simulated callee's ears, its voice out, written
    just ahead of the stack's transmit buffer (the callee's line time is what was sent)."""

    AHEAD = 2400  # samples kept queued for the stack to send (300 ms)

    def __init__(self, call: Any, line: SimulatedLine, keys: list[str],
                 known: KnownPrompts, ear: EarProcess | None = None) -> None:
        self.call, self.line, self.keys, self.known, self.ear = call, line, keys, known, ear
        self.prompts = Prompts(known.rests)
        self.recent = np.zeros(0, np.int16)  # the robot's latest audio: the echo's source
        # prompts heard, in order, each with its start on the callee's clock; one the
        # ear process is still hearing holds back those after it
        self.heard: list[tuple[asyncio.Future[None] | None, bytes, int]] = []

    async def run(self) -> None:
        from baresip import AudioNotActive, AudioRestarted, CallState

        while self.call.state is not CallState.CLOSED:
            with contextlib.suppress(AudioNotActive, AudioRestarted):
                if not await self._tick():
                    with contextlib.suppress(Exception):
                        await self.call.hangup()  # the callee (or the machine) hung up
                    break
            await asyncio.sleep(TICK_S)
        log.debug("far end call ended: %d piece(s) waited for past a pause, %d joined by "
                  "the rest of their prompt", self.prompts.held, self.prompts.joined)

    async def _tick(self) -> bool:
        got = self.call.audio.read(64000)
        heard = np.frombuffer(got, dtype="<i2") if got else np.zeros(0, np.int16)
        if len(heard):
            self.recent = heard
        prompt = self.prompts.feed(heard)
        if prompt is not None and len(prompt[1]) >= SHORTEST:  # (a click is no prompt)
            # placed on the callee's clock, which counts what was sent
            start, audio = prompt
            at = max(0, self.line.elapsed() - (self.prompts.t - start))
            prompt_line = self.known.find(audio)
            hearing = None
            if prompt_line is None:
                prompt_line = ulaw_encode(audio)
                hearing = self.ear.hear(self.line.sim.ear, prompt_line) if self.ear else None
            self.heard.append((hearing, prompt_line, at))
        while self.heard and (self.heard[0][0] is None or self.heard[0][0].done()):
            hearing, prompt_line, at = self.heard.pop(0)
            if log.isEnabledFor(logging.DEBUG):  # what the callee took the prompt for
                meaning = self.line.sim.ear.hear(prompt_line)
                log.debug("far end prompt %.2f s, %s: %s", len(prompt_line) / RATE,
                          "by its codes" if hearing is None else "by the ear", meaning)
            self.line.heard(prompt_line, at)
        if self.keys:
            keys, self.keys[:] = "".join(self.keys), []
            self.line.heard(ulaw_encode(dtmf.tones(keys)), self.line.elapsed())
        want = self.AHEAD - self.call.audio.info().tx_buffered // 2
        if want < 160:
            return True
        said = ulaw_decode(await self.line.receive(want)).astype(np.float32)
        if len(said):  # nothing once the callee has hung up (and recent[-0:] is all of it)
            echo = self.recent[-len(said):].astype(np.float32)
            said[len(said) - len(echo):] += self.line.echo_of(echo)
            self.call.audio.write(to_int16(said / 32768).astype("<i2").tobytes())
        return self.line.end_cause is None


class EarProcess:
    """The callees' ear (pocketsphinx) in a process of its own, for prompts not known by
    their codes; what it hears is remembered by this process's ear, so the callee's
    own hearing of it costs nothing."""

    def __init__(self, survey_text: str) -> None:
        self._pool = ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"),
                                         initializer=_ear_start, initargs=(survey_text,))

    def hear(self, ear: object, line: bytes) -> asyncio.Future[None] | None:
        """Hear `line` elsewhere into `ear`: a future, or None if nothing is to be done."""
        if not isinstance(ear, Ear) or ear.knows(line):
            return None  # a SoundEar (vosk surveys) compares sounds: cheap, and in numpy
        loop = asyncio.get_running_loop()

        async def heard() -> None:
            ear.remember(line, await loop.run_in_executor(self._pool, _ear_hear, line))
        return asyncio.ensure_future(heard())

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)


_ear: Ear | None = None


def _ear_start(survey_text: str) -> None:
    global _ear
    from speech.sphinx import SphinxRecognizer
    from survey_scripts.loader import load_survey_text

    _ear = Ear(load_survey_text(survey_text, "the demo's survey"), SphinxRecognizer(garbage=False))


def _ear_hear(line: bytes) -> PromptMeaning | None:
    assert _ear is not None
    return _ear.hear(line)


@contextlib.contextmanager
def far_end(store: Store, campaign: str, work: Path) -> Iterator[Path]:
    """The campaign's population answering SIP on 127.0.0.1 in its own process, and a
    trunk file (owner-only) that leads there; stopped on leaving."""
    c = store.campaign(campaign)
    numbers = {r.e164.lstrip("+"): r.id for r in store.contacts_of(campaign)}
    port = _free_port()
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    # not daemonic: its ear has a process of its own (stopped and joined below)
    proc = ctx.Process(target=serve, name="healthdial-far-end", args=(
        c.survey_text, c.engine.engine, numbers, c.line.seed, port, FAR_RTP, ready, stop,
        log.getEffectiveLevel()))
    proc.start()
    trunk = work / "far-end-trunk.toml"  # the echo comes back after the far end's queue
    trunk.write_text(f'[trunk]\nhost = "127.0.0.1:{port}"\ninterface = "127.0.0.1"\n'
                     'echo_delay_ms = 700\n', encoding="utf-8")
    trunk.chmod(0o600)
    try:
        if not ready.wait(120):
            raise EngineError("the simulated far end did not start within 120 s")
        yield trunk
    finally:
        stop.set()
        proc.join(15)
        if proc.is_alive():
            proc.kill()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(survey_text: str, engine: str, numbers: dict[str, int], seed: int, port: int,
          rtp: tuple[int, int], ready: Any, stop: Any, level: int = logging.WARNING) -> None:
    """A far-end process: the survey's prompts as the robot says them (the callees' ears
    know their sound), the population, the SIP stack; until `stop` is set. `level` is
    this module's log level only (-v: what each prompt was taken for; the SIP stack's
    own debug output holds numbers and stays off)."""
    from dialer.robot.robot import build_robot
    from dialer.wire import EngineSpec
    from survey_scripts.loader import load_survey_text

    logging.basicConfig(level=logging.WARNING)
    log.setLevel(level)
    survey = load_survey_text(survey_text, "the demo's survey")
    robot = build_robot(survey, EngineSpec(engine))
    sim = build_simulation(survey, engine, robot.synth, robot.prompts())
    sim.ear.warm(list(sim.prompts.values()))
    ear = EarProcess(survey_text) if isinstance(sim.ear, Ear) else None
    try:
        asyncio.run(FarEnd(sim, numbers, seed, ear).serve(port, rtp, ready, stop))
    finally:
        if ear is not None:
            ear.close()
