"""Line back-ends behind one registry: the campaign stores its line kind, and nothing
above the lines names a back-end.

A back-end says three things: how a call is planned on the dispatcher's side
(`plan`: the LineSpec the job carries), what a worker process prepares once per survey
(`prepare`, and `warm` before realtime calls), and how a line opens for one call
(`open`): the simulated population, and SIP (real lines through a trunk).
Replayed recordings and the fake line are opened directly by replay and tests.
"""

from __future__ import annotations

from dialer.lines.backend import Backend
from dialer.lines.simulated import SimulatedBackend
from dialer.lines.sip.backend import SipBackend
from survey_scripts.errors import UsageError

BACKENDS: dict[str, Backend] = {"simulated": SimulatedBackend(), "sip": SipBackend()}


def backend(kind: str) -> Backend:
    """The back-end of a line kind; a kind this release does not know is a usage error."""
    if kind not in BACKENDS:
        raise UsageError(f"no line back-end {kind!r} in this release (known: "
                         f"{', '.join(sorted(BACKENDS))})")
    return BACKENDS[kind]
