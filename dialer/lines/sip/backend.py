"""The SIP back-end as the line registry sees it: a call planned, a worker's phone
prepared on its own trunk file, the trunk checked, a line opened."""

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
