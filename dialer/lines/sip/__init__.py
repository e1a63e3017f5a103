"""The SIP line back-end: real phone lines through a SIP trunk (a carrier's, or an
office's PBX), on baresip-python (baresip's C SIP/RTP stack, asyncio API).

trunk.py    the worker's trunk file: host, credentials, caller ID, dial plan, RTP ports
answers.py  SIP's final answers as the Line protocol's outcomes and end causes
probe.py    the trunk checked before the first call (OPTIONS ping, or registration)
trace.py    a refusal's Retry-After, read from the stack's SIP trace
line.py     the Line: progress, ring timeout, audio paced by the stack, RFC 4733 keys

Why baresip-python: measured against aiosipua + aiortp (pure Python) at 100 and 200
concurrent calls to sipp on this machine, with a thread holding the GIL as decoding
does, aiortp's packets left late (jitter 50x, 8% of the audio short) while baresip's own
RTP thread starved no frame (CHANGELOG, issue 19).

Like every back-end it imports nothing of the robot, the store, the dispatcher or the
workers; baresip is imported only when a call is placed.
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
