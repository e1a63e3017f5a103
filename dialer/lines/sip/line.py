"""A SIP line: one call through the worker's trunk, on baresip's SIP and RTP stack.

baresip (C, its own thread) sends and receives RTP on its own clock, so decoding that
holds the GIL delays no packet; this module keeps the Line protocol's promises on top
of it: progress and the ring timeout, SIP answers as end causes (answers.py), the robot's
audio fed a little ahead of the playout clock (the wall clock from the answer), what
the callee says buffered until the robot reads it, keys out of band both ways.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import numpy as np

from dialer.lines import RING_TIMEOUT_S, Dialled, Digit, EndCause, Progress
from dialer.lines.playout import LineBase
from dialer.lines.sip.answers import TRUNK, answer_of, registration_failure
from dialer.lines.sip.probe import check as ping
from dialer.lines.sip.probe import resolve
from dialer.lines.sip.trace import RetryAfters
from dialer.lines.sip.trunk import Trunk
from dialer.wire import LineSpec
from speech.channel import RATE, ulaw_encode
from survey_scripts.errors import TrunkError

log = logging.getLogger(__name__)
TICK_S = 0.02  # the pump's period: one RTP packet
# samples of a prompt handed to the stack before they are due: half a second, so a pump
# held up by decoding (the GIL) leaves no gap (the stack keeps a quarter of its buffer)
AHEAD = RATE // 2
LOST = ("rtp", "timeout", "timed out", "unreachable")  # close reasons of a lost line
EARLY_MAX = 60 * RATE  # early media kept at most (a minute of announcement)
SIM_HEADER = "X-Healthdial-Sim"  # who the simulated far end is to be (never to a trunk)
# the stack flushes its transmit buffer on its next packet tick, not at once: a prompt
# written before then was flushed with what it replaced (its first half second lost)
FLUSH_S = 0.05


def sim_header(spec: LineSpec) -> str:
    sim = spec.sim
    assert sim is not None
    return f"{sim.seed};{spec.contact};{spec.attempt};{sim.hour};{sim.callees};{spec.ext}"


class SipPhone:
    """A worker process's SIP user agent on its trunk, started on first use."""

    def __init__(self, trunk: Trunk) -> None:
        self.trunk = trunk
        self._agent: Any = None
        self._runtime: Any = None
        self._lock: asyncio.Lock | None = None
        self.refusals = RetryAfters.installed()

    async def agent(self) -> Any:
        from baresip import Account, Config, Runtime, UserAgent

        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            if self._agent is None:
                t = self.trunk
                self._runtime = runtime = Runtime()
                await runtime.start(Config(
                    net_interface=t.interface or None, max_concurrent_calls=None,
                    rtp_timeout=10, sip_trace=True, extra_config_text=f"rtp_ports {t.rtp_ports[0]}-"
                                                      f"{t.rtp_ports[1]}\n"))
                self._agent = await UserAgent.create(runtime, Account(
                    t.caller_id or t.user, t.host, t.password,  # From: the caller ID
                    reg_interval=600 if t.register else 0, auth_user=t.user,
                    transport=t.transport, audio_codecs=t.codecs))  # type: ignore[arg-type]
                if t.register:
                    await self._agent.register()
        return self._agent

    async def check(self) -> str:
        """The trunk before the first call: pinged, or registered with our credentials."""
        from baresip import RegistrationError

        if not self.trunk.register:
            return await asyncio.to_thread(ping, self.trunk)
        await asyncio.to_thread(resolve, self.trunk)
        try:
            await self.agent()
        except RegistrationError as e:
            raise TrunkError(registration_failure(
                self.trunk.host, self.trunk.user, e.status, str(e))) from None
        return f"the trunk {self.trunk.host} ({self.trunk.transport}) registered us as " \
               f"{self.trunk.user}"

    async def close(self) -> None:
        """End the SIP stack (its thread) before the process ends."""
        if self._runtime is not None:
            runtime, self._runtime, self._agent = self._runtime, None, None
            await runtime.close()


class SipLine(LineBase):
    paced = True

    def __init__(self, phone: SipPhone, spec: LineSpec | None = None) -> None:
        super().__init__()
        self.phone, self.spec = phone, spec
        self.echo_delay_s = phone.trunk.echo_delay_ms / 1000
        self.call: Any = None
        self._dialled_at = time.monotonic()
        self._answered_at: float | None = None
        self._rx = bytearray()  # the callee's audio, 16-bit, not yet read
        self._arrived = asyncio.Event()
        self._written = 0  # samples of the current play handed to the stack
        self._pump: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._we_hung_up = False
        self._early_kept = 0  # bytes of early media kept: counted, not summed every tick
        self._flushed_at: float | None = None  # a flush asked for, not yet surely done
        self.audio_warnings: dict[str, int] = {}  # tx / rx: seconds our pacing damaged

    # dialling ----------------------------------------------------------------------
    async def dial(self, number: str, ring_timeout_s: float = RING_TIMEOUT_S) -> Dialled:
        from baresip import CallFailed, CallTimeout
        from baresip.events import Event

        agent = await self.phone.agent()
        t = self.phone.trunk
        headers = {"P-Asserted-Identity": f"<sip:{t.caller_id}@{t.host}>"} \
            if t.caller_id else {}
        if self.spec is not None and self.spec.sim is not None:  # the simulation's far end
            headers[SIM_HEADER] = sim_header(self.spec)
        self._dialled_at = time.monotonic()
        steps = {Event.CALL_RINGING: Progress.RINGING, Event.CALL_PROGRESS: Progress.EARLY_MEDIA}
        before: list[Any] = []  # a 180 (or the 486) may come before dial() has told us
        closed: list[str] = []  # our call, and the call may miss its own close then

        def progress(event: Any) -> None:
            if self.call is None:
                before.append(event)
            elif event.call == self.call.handle and event.event in steps:
                self.noted(steps[event.event], self.now())
            elif event.call == self.call.handle and event.event is Event.CALL_CLOSED:
                closed.append(event.text or "")

        agent.on(progress)
        early: asyncio.Task[None] | None = None
        try:
            self.call = await agent.dial(t.uri_for(number), headers or None)
            for event in before:
                progress(event)
            if closed:
                raise CallFailed.from_close_reason(closed[0])
            early = asyncio.create_task(self._read_early(), name="sip early media")
            await self.call.wait_established(ring_timeout_s)
        except CallTimeout:  # cancelled (CANCEL sent) at the ring timeout
            self.ended(EndCause.NO_ANSWER)
            await self._until_closed()  # the far end's 487 answered (ACK), not left hanging
            return Dialled.NO_ANSWER
        except CallFailed as e:
            refusals, call_id = self.phone.refusals, self.call and self.call.call_id
            answer = answer_of(e.status, await refusals.retry_after(call_id)
                               if e.status in TRUNK else refusals.take(call_id))
            self.ended(answer.cause)
            self.retry_after_s = answer.retry_after_s
            said = f"{e.status} {e.reason}" if e.status else str(e)
            if answer.cause == EndCause.UNAUTHORIZED:
                self.refusal = f"the trunk refused our credentials ({said}) for user " \
                               f"{t.user!r}: check the trunk file's user and password"
            elif answer.dialled == Dialled.FAILED:
                self.refusal = f"the trunk refused the call ({said})"
            return answer.dialled
        finally:
            agent.off(progress)
            if early is not None:
                early.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await early
        self._answered_at = time.monotonic()
        self._keep_early(None)  # what the stack received before the 200
        self.noted(Progress.ANSWERED, self.now())
        self.call.on_dtmf(lambda d: self.keyed(Digit(self.elapsed(), d.digit)))
        self.call.on_audio_warning(self._damaged)
        self._pump = asyncio.create_task(self._run_pump(), name="sip pump")
        return Dialled.ANSWERED

    async def _read_early(self) -> None:
        """Early media (a 183's announcement, a voicemail greeting) read as it comes, so
        the stack's receive buffer holds none of it at the answer: it is kept in
        `early_media`, and the robot's side hears only what follows the answer."""
        while True:
            self._keep_early(64000)
            await asyncio.sleep(TICK_S)

    def _keep_early(self, most: int | None) -> None:
        """Up to `most` bytes of received audio, or (None) all the stack holds now."""
        from baresip import AudioNotActive, AudioRestarted

        with contextlib.suppress(AudioNotActive, AudioRestarted):
            if most is None:
                most = self.call.audio.info().rx_buffered
            got = self.call.audio.read(most) if most > 0 else b""
            if got and self._early_kept < EARLY_MAX:
                self._early.append(ulaw_encode(np.frombuffer(got, dtype="<i2")))
                self._early_kept += len(self._early[-1])

    def _damaged(self, warning: Any) -> None:
        """The stack saw audio lost to our pacing (a pump that woke too late)."""
        self.audio_warnings[warning.direction] = self.audio_warnings.get(warning.direction, 0) + 1
        log.warning("SIP call audio: %s", warning.message)

    async def _until_closed(self, within_s: float = 5.0) -> None:
        """A cancelled call ends when the far end's 487 has come (the stack acknowledges
        it): a stack closed before then leaves the far end retransmitting."""
        from baresip import CallState

        deadline = time.monotonic() + within_s
        refusals, call_id = self.phone.refusals, self.call.call_id
        # the stack's state and its trace, with no event of ours to await
        while (self.call.state is not CallState.CLOSED or not refusals.answered(call_id)) \
                and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(TICK_S)
        refusals.take(call_id)
        await asyncio.sleep(TICK_S)  # the ACK leaves with the 487's handling

    # the pump: audio in and out every packet time ------------------------------------
    async def _run_pump(self) -> None:
        from baresip import AudioNotActive, AudioRestarted, CallState

        while self.call.state is not CallState.CLOSED:
            # renegotiated mid-call: the next operation binds to the new streams
            with contextlib.suppress(AudioNotActive, AudioRestarted):
                got = self.call.audio.read(64000)
                if got:
                    self._rx += got
                    self._arrived.set()
                self._feed()
            await asyncio.sleep(TICK_S)
        reason = (getattr(self.call, "_close_reason", "") or "").lower()
        self.ended(EndCause.WE_HUNG_UP if self._we_hung_up else EndCause.LINE_LOST
                   if any(w in reason for w in LOST) else EndCause.CALLEE_HUNG_UP)
        self._arrived.set()

    def _feed(self) -> None:
        """Hand the stack the current prompt up to AHEAD samples past the playout clock,
        once a flush asked for has been done (the prompt's clock starts then)."""
        if self._flushed_at is not None:
            waited = time.monotonic() - self._flushed_at
            if waited < FLUSH_S or (waited < 4 * FLUSH_S and self._queued() > 0):
                return
            self._flushed_at = None
            if self._written == 0:  # a new prompt: its clock starts as it reaches the wire
                self.out.at = self.elapsed()
        due = min(len(self.out.audio), self.out.played(self.elapsed()) + AHEAD)
        if due > self._written:
            chunk = self.out.audio[self._written:due]
            self._written += self.call.audio.write(chunk.astype("<i2").tobytes()) // 2

    def _queued(self) -> int:
        with contextlib.suppress(Exception):
            return int(self.call.audio.info().tx_buffered)
        return 0

    def play(self, audio: bytes) -> None:
        super().play(audio)
        self._written = 0
        self._flush()

    def stop(self) -> None:
        super().stop()
        self._written = len(self.out.audio)
        self._flush()

    def _flush(self) -> None:
        """What is queued and not yet sent is dropped (a barge-in, the next prompt); the
        next write waits until the stack has surely done it."""
        if self.call is not None:
            with contextlib.suppress(Exception):
                self.call.audio.flush_tx()
                self._flushed_at = time.monotonic()

    async def receive(self, n: int) -> bytes:
        while len(self._rx) < 2 * n and self.end_cause is None:
            self._arrived.clear()
            await self._arrived.wait()
        take = min(n, len(self._rx) // 2)
        x = np.frombuffer(bytes(self._rx[:2 * take]), dtype="<i2").astype(np.int16)
        del self._rx[:2 * take]
        return ulaw_encode(x)

    # keys and the end ------------------------------------------------------------------
    def send_digits(self, keys: str) -> None:
        if self.call is not None:
            task = asyncio.create_task(self.call.send_dtmf(keys), name="sip keys")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def hangup(self) -> None:
        self._we_hung_up = True
        self.ended(EndCause.WE_HUNG_UP)
        if self.call is not None:
            from baresip import BaresipError

            with contextlib.suppress(BaresipError):
                await self.call.hangup()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump

    def elapsed(self) -> int:
        if self._answered_at is None:
            return 0
        return int((time.monotonic() - self._answered_at) * RATE)

    def now(self) -> float:
        return time.monotonic() - self._dialled_at
