"""The SIP line back-end: real phone lines through a SIP trunk (a carrier's, or an
office's PBX): signalling on aiosipua, every call's RTP on one pacer per process.

trunk.py    the worker's trunk file: host, credentials, caller ID, dial plan, RTP ports
answers.py  SIP's final answers as the Line protocol's outcomes and end causes
probe.py    the trunk checked before the first call (OPTIONS ping, or registration)
agent.py    the process's SIP user agent: aiosipua, and what it leaves to its user
transport.py  UDP, TCP and TLS under it (aiosipua's, mended where it needs)
offer.py    the SDP offered and what the answer chose
rtp.py      RTP packets, G.711 in both laws, RFC 4733 keypad events
media.py    a call's RTP stream (jitter buffer, keys) and the process's one pacer
line.py     the Line: progress, ring timeout, the pacer's tick as its clock

Why this design (measured, bench/sip_libraries.py, docs/architecture.md): a library
that paces each call on its own threads or timers spends most of a call's cost waking
up (baresip-python 0.75-0.88% of a core per call, aiosipua + aiortp 0.89%); one tick
for every call costs a fifth of that. Decoding runs in the decoder processes, so no
decode holds this process's GIL across a tick.

Like every back-end it imports nothing of the robot, the store, the dispatcher or the
workers; aiosipua is imported only when a call is placed.
"""

from __future__ import annotations

import asyncio

from dialer.lines import Line
from dialer.lines.backend import PlannedCall, Shared
from dialer.lines.pacing import Pacing
from dialer.lines.sip.line import SipLine, SipPhone
from dialer.lines.sip.trunk import read_trunk
from dialer.policy.hours import planned_hour
from dialer.wire import LineSpec, SimSpec


class SipBackend:
    kind = "sip"

    def plan(self, call: PlannedCall) -> LineSpec:
        """A real call carries nothing but who to dial; a call to the simulated population
        over SIP (`demo --line sip`) also what the simulation needs to be that person."""
        c = call.config
        if c.far_end != "simulated":
            return LineSpec("sip", call.contact, call.attempt, call.ext)
        hour = planned_hour(call.start_at, call.attempt, call.timezone, call.settings)
        return LineSpec("sip", call.contact, call.attempt, call.ext,
                        SimSpec(c.seed, hour, c.callees))

    def prepare(self, shared: Shared) -> SipPhone:
        return SipPhone(read_trunk())  # this worker's own trunk file

    def warm(self, prepared: object) -> None:
        """Nothing to warm: the SIP stack starts with the first call."""

    def check(self) -> str:
        """This machine's trunk file read, the trunk pinged or registered with: a dead or
        misconfigured trunk is found before any contact is dialled."""
        phone = SipPhone(read_trunk())

        async def checked() -> str:
            try:
                return await phone.check()
            finally:
                await phone.close()

        return asyncio.run(checked())

    async def close(self, prepared: object) -> None:
        assert isinstance(prepared, SipPhone)
        await prepared.close()

    def open(self, prepared: object, spec: LineSpec, pacing: Pacing) -> Line:
        assert isinstance(prepared, SipPhone)
        return SipLine(prepared, spec)
