"""Line back-ends behind one registry: the campaign stores its line kind, and nothing
above the lines names a back-end.

A back-end says three things: how a call is planned on the dispatcher's side
(`plan`: the LineSpec the job carries), what a worker process prepares once per survey
(`prepare`, and `warm` before realtime calls), and how a line opens for one call
(`open`). The simulated back-end is the only campaign back-end today; SIP joins here.
Replayed recordings and the fake line are opened directly by replay and tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from dialer.lines import Line
from dialer.lines.pacing import Pacing
from dialer.policy.settings import CampaignSettings
from dialer.wire import LineConfig, LineSpec
from speech.tts import Synthesizer
from survey_scripts.errors import UsageError
from survey_scripts.model import Survey


@dataclass(frozen=True)
class PlannedCall:
    """What the dispatcher knows of a call when it plans it."""

    config: LineConfig
    contact: int
    attempt: int
    ext: str
    timezone: str  # the zones the number may be in, as the store keeps them
    start_at: float  # the campaign's start
    settings: CampaignSettings


@dataclass(frozen=True)
class Shared:
    """What a worker process hands a back-end to prepare once per survey: the survey, the
    recognition engine's name, the synthesizer (and its cache), and every prompt's line
    audio by text (what a callee may hear; a far end never sees more of the robot)."""

    survey: Survey
    engine: str
    synth: Synthesizer
    prompts: dict[str, bytes]


class Backend(Protocol):
    kind: str

    def plan(self, call: PlannedCall) -> LineSpec: ...

    def prepare(self, shared: Shared) -> object: ...

    def warm(self, prepared: object) -> None: ...

    def open(self, prepared: object, spec: LineSpec, pacing: Pacing) -> Line: ...


def backend(kind: str) -> Backend:
    """The back-end of a line kind; a kind this release does not know is a usage error."""
    from dialer.lines.simulated import SimulatedBackend  # the back-ends load on demand

    known: dict[str, Backend] = {"simulated": SimulatedBackend()}
    if kind not in known:
        raise UsageError(f"no line back-end {kind!r} in this release (known: "
                         f"{', '.join(sorted(known))})")
    return known[kind]
