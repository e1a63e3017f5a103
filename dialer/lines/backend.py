"""What a line back-end is, for the registry: how a call is planned, what a worker
prepares once, how a line opens. The types the back-ends and the registry share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from dialer.lines import Line
from dialer.lines.pacing import Pacing
from dialer.policy.settings import CampaignSettings
from dialer.wire import LineConfig, LineSpec
from speech.tts import Synthesizer
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

    async def close(self, prepared: object) -> None:
        """The process is ending: let go of what `prepare` started (a SIP stack's thread)."""
        ...

    def check(self) -> str | None:
        """Before the first call, on the machine that will dial: can this machine's lines
        be used? What was found (None: nothing to check); TrunkError or UsageError if not."""
        ...
