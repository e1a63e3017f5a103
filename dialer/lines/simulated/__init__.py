"""The simulated line back-end: a population of callees behind simulated phone lines.

persona.py     who a callee is: voice, habits, the hidden truth the robot never sees
population.py  who picks up, who is busy, who has a machine; each call's LineSpec
callee.py      a callee hearing prompts from their audio and answering by voice or keypad
line.py        the Line the robot dials: network, far-end audio timeline, echo, early answers

Only reports and tests read the truth; the robot hears the line. It imports nothing of
the robot, the store, the dispatcher or the workers: what it knows of the robot is the
prompts' audio, handed to it as a far end would hear them.
"""

from __future__ import annotations

from dialer.lines import Line
from dialer.lines.backend import PlannedCall, Shared
from dialer.lines.pacing import Pacing
from dialer.lines.simulated.callee import Ear, SoundEar
from dialer.lines.simulated.line import SimulatedLine, Simulation
from dialer.lines.simulated.population import plan
from dialer.wire import LineSpec
from speech.tts import Synthesizer
from survey_scripts.model import Survey


def build_simulation(survey: Survey, engine: str, synth: Synthesizer,
                     prompts: dict[str, bytes], duplex: bool = True) -> Simulation:
    """The callees' side of a process, sharing the robot's synthesizer cache. Their ear:
    for pocketsphinx, its own decoder with a sentence grammar of the prompts; for vosk,
    whose small models cannot follow the robot's synthetic voice, the sound of each
    prompt (SoundEar)."""
    ear: Ear | SoundEar
    if engine == "pocketsphinx":
        from speech.sphinx import SphinxRecognizer

        ear = Ear(survey, SphinxRecognizer(garbage=False))
    else:
        ear = SoundEar(survey, prompts)
    return Simulation(survey, synth, ear, duplex, prompts)


class SimulatedBackend:
    kind = "simulated"

    def plan(self, call: PlannedCall) -> LineSpec:
        return plan(call)

    def prepare(self, shared: Shared) -> Simulation:
        return build_simulation(shared.survey, shared.engine, shared.synth, shared.prompts)

    def warm(self, prepared: object) -> None:
        """The callees hear each prompt now, once per process, so no realtime turn waits
        while a prompt is heard for the first time (seconds in all)."""
        assert isinstance(prepared, Simulation)
        prepared.ear.warm(list(prepared.prompts.values()))

    def check(self) -> str | None:
        return None

    async def close(self, prepared: object) -> None:
        """Nothing outlives the process here."""

    def open(self, prepared: object, spec: LineSpec, pacing: Pacing) -> Line:
        assert isinstance(prepared, Simulation)
        return SimulatedLine(prepared, spec, pacing)
