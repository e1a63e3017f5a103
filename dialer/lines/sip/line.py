"""A SIP line: one call through the worker's trunk, its signalling on the process's
agent (agent.py), its RTP on the process's pacer (media.py).

The pacer's tick is the line's clock: each tick sends the next 20 ms of the current
prompt (or silence) and hands the robot the next 20 ms received, so what is played and
what is heard stay on one clock, and a barge-in or a new prompt takes effect at the next
packet (nothing queued in a stack to flush).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time

from dialer.lines import RING_TIMEOUT_S, Dialled, Digit, EndCause, Progress
from dialer.lines.playout import LineBase
from dialer.lines.sip import rtp
from dialer.lines.sip.agent import Leg, SipAgent
from dialer.lines.sip.answers import TRUNK, answer_of
from dialer.lines.sip.media import Pacer, Stream
from dialer.lines.sip.offer import chosen, offer
from dialer.lines.sip.probe import check as ping
from dialer.lines.sip.trunk import Trunk
from dialer.wire import LineSpec
from survey_scripts.errors import TrunkError

RTP_TIMEOUT_S = 10.0  # nothing received this long: the line is lost (the far end froze)
SIM_HEADER = "X-Healthdial-Sim"  # who the simulated far end is to be (never to a trunk)
PORT_TRIES = 200


def sim_header(spec: LineSpec) -> str:
    sim = spec.sim
    assert sim is not None
    return f"{sim.seed};{spec.contact};{spec.attempt};{sim.hour};{sim.callees};{spec.ext}"


class SipPhone:
    """A worker process's SIP user agent and RTP pacer on its trunk, started on first
    use."""

    def __init__(self, trunk: Trunk) -> None:
        self.trunk = trunk
        self.pacer = Pacer()
        self._agent: SipAgent | None = None
        self._lock: asyncio.Lock | None = None
        lo, hi = trunk.rtp_ports
        self._ports = itertools.cycle(range(lo + lo % 2, hi, 2))  # even: RTCP's is odd

    async def agent(self) -> SipAgent:
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            if self._agent is None:
                agent = SipAgent(self.trunk)
                await agent.start()
                if self.trunk.register:
                    try:
                        await agent.register()
                    except TrunkError:
                        await agent.close()
                        raise
                self._agent = agent
        return self._agent

    @property
    def started(self) -> SipAgent | None:
        return self._agent

    async def bind(self, stream: Stream) -> int:
        """The stream's socket on a free even port of the trunk's RTP range."""
        ip = (await self.agent()).local[0]
        for _ in range(PORT_TRIES):
            with contextlib.suppress(OSError):  # taken: the next one
                return await stream.bind(ip, next(self._ports))
        raise TrunkError(f"no free RTP port in {self.trunk.rtp_ports[0]}-"
                         f"{self.trunk.rtp_ports[1]} on {ip}: widen `rtp_ports` in the "
                         "trunk file, or fewer lines on this worker")

    async def check(self) -> str:
        """The trunk before the first call: pinged, or registered with our credentials."""
        if not self.trunk.register:
            return await asyncio.to_thread(ping, self.trunk)
        await self.agent()
        return f"the trunk {self.trunk.host} ({self.trunk.transport}) registered us as " \
               f"{self.trunk.user}"

    async def close(self) -> None:
        await self.pacer.close()
        if self._agent is not None:
            agent, self._agent = self._agent, None
            await agent.close()


class SipLine(LineBase):
    paced = True

    def __init__(self, phone: SipPhone, spec: LineSpec | None = None) -> None:
        super().__init__()
        self.phone, self.spec = phone, spec
        self.echo_delay_s = phone.trunk.echo_delay_ms / 1000
        self.stream = Stream(self._frame, self._key)
        self._early = self.stream.early  # early media, kept apart as it comes
        self.leg: Leg | None = None
        self._dialled_at = time.monotonic()
        self._answered = False
        self._tx = b""  # the current prompt, mu-law
        self._spurt = False  # the current prompt's first packet is still to be sent
        self._rx = bytearray()  # what the robot has not read yet, mu-law
        self._wanted = 0
        self._arrived = asyncio.Event()

    # dialling ----------------------------------------------------------------------
    async def dial(self, number: str, ring_timeout_s: float = RING_TIMEOUT_S) -> Dialled:
        phone, t = self.phone, self.phone.trunk
        headers = {"P-Asserted-Identity": f"<sip:{t.caller_id}@{t.host}>"} \
            if t.caller_id else {}
        if self.spec is not None and self.spec.sim is not None:  # the simulation's far end
            headers[SIM_HEADER] = sim_header(self.spec)
        self._dialled_at = time.monotonic()
        try:  # no registration, no RTP port, no connection: ours or the trunk's, never
            agent = await phone.agent()  # the callee's
            port = await phone.bind(self.stream)
            self.leg = leg = await agent.invite(
                t.uri_for(number), offer(agent.local[0], port, t.codecs), headers,
                lambda step: self.noted(step, self.now()), self._hung_up_on)
        except TrunkError as e:
            return self._failed(str(e))
        try:
            await asyncio.wait_for(leg.done.wait(), ring_timeout_s)
        except TimeoutError:  # rang out: CANCEL, and its 487 answered
            self.ended(EndCause.NO_ANSWER)
            self.stream.close()
            await agent.cancel(leg)
            return Dialled.NO_ANSWER
        if leg.status is None or not 200 <= leg.status < 300:
            return self._refused(leg)
        try:
            far = chosen(leg.answer, t.codecs)
        except TrunkError as e:  # answered with nothing we speak
            agent.bye(leg)
            return self._failed(str(e))
        self.stream.answered(far)
        self._answered = True
        self.noted(Progress.ANSWERED, self.now())
        phone.pacer.add(self.stream, self._heard)
        return Dialled.ANSWERED

    def _failed(self, why: str) -> Dialled:
        """Ours or the trunk's failure, never the callee's: refused, no attempt used."""
        self.stream.close()
        self.ended(EndCause.REFUSED)
        self.refusal = why
        return Dialled.FAILED

    def _refused(self, leg: Leg) -> Dialled:
        self.stream.close()
        if self.phone.started is not None:
            self.phone.started.forget(leg)
        answer = answer_of(leg.status or None, leg.retry_after
                           if leg.status in TRUNK else None)
        self.ended(answer.cause)
        self.retry_after_s = answer.retry_after_s
        said = f"{leg.status} {leg.reason}" if leg.status else leg.reason
        if answer.cause == EndCause.UNAUTHORIZED:
            self.refusal = f"the trunk refused our credentials ({said}) for user " \
                           f"{self.phone.trunk.user!r}: check the trunk file's user and password"
        elif answer.dialled == Dialled.FAILED:
            self.refusal = f"the trunk refused the call ({said})"
        return answer.dialled

    # the pacer's side: every 20 ms ----------------------------------------------------
    def _frame(self) -> bytes:
        """The next 20 ms of the current prompt (silence past its end or its cut)."""
        at = (self.stream.ticks - 1) * rtp.FRAME - self.out.at
        end = min(len(self.out.audio), len(self._tx))
        if at >= end or at < 0:
            return rtp.SILENCE
        frame = self._tx[at:min(end, at + rtp.FRAME)]
        if self._spurt:  # a prompt's first packet: marked, as RFC 3551 marks a talkspurt's
            self._spurt = False
            self.stream.talkspurt = True
        return frame if len(frame) == rtp.FRAME else frame + rtp.SILENCE[len(frame):]

    def _heard(self, frame: bytes) -> None:
        self._rx += frame
        if len(self._rx) >= self._wanted:
            self._arrived.set()
        if self.stream.ticks % 50 == 0 and \
                time.monotonic() - self.stream.last_heard > RTP_TIMEOUT_S:
            self._lost()

    def _key(self, key: str) -> None:
        self.keyed(Digit(self.elapsed(), key))

    # the robot's side -------------------------------------------------------------------
    def play(self, audio: bytes) -> None:
        super().play(audio)
        self._tx = audio
        self._spurt = True

    async def receive(self, n: int) -> bytes:
        while len(self._rx) < n and self.end_cause is None:
            self._wanted = n
            self._arrived.clear()
            await self._arrived.wait()
        got = bytes(self._rx[:n])
        del self._rx[:n]
        return got

    def send_digits(self, keys: str) -> None:
        if self.stream.far is not None and self.stream.far.event_pt is not None:
            self.stream.send_keys(keys)
        else:
            super().send_digits(keys)

    # the end ----------------------------------------------------------------------------
    def _hung_up_on(self) -> None:
        self.ended(EndCause.CALLEE_HUNG_UP)
        self._stop()

    def _lost(self) -> None:
        """No RTP for RTP_TIMEOUT_S: the far end or the network is gone (nobody's
        choice); our BYE tells whatever is left."""
        self.ended(EndCause.LINE_LOST)
        self._stop()
        if self.leg is not None and self.phone.started is not None:
            self.phone.started.bye(self.leg)

    def _stop(self) -> None:
        self.phone.pacer.remove(self.stream)
        self.stream.close()
        self._arrived.set()

    async def hangup(self) -> None:
        self.ended(EndCause.WE_HUNG_UP)
        self._stop()
        agent = self.phone.started
        if self.leg is not None and agent is not None:
            if self._answered:
                agent.bye(self.leg)
            elif self.leg.status is None:
                await agent.cancel(self.leg)

    def elapsed(self) -> int:
        return self.stream.ticks * rtp.FRAME if self._answered else 0

    def now(self) -> float:
        return time.monotonic() - self._dialled_at
