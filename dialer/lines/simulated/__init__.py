"""The simulated line back-end: a population of callees behind simulated phone lines.

persona.py     who a callee is: voice, habits, the hidden truth the robot never sees
population.py  who picks up, who is busy, who has a machine; each call's line data
callee.py      a callee hearing prompts from their audio and answering by voice or keypad
line.py        the Line the robot dials: network, far-end audio timeline, echo, early answers

Only reports and tests read the truth; the robot hears the line.
"""

from __future__ import annotations

from dialer.lines.simulated.callee import Ear, SoundEar
from dialer.lines.simulated.line import Simulation
from dialer.robot.robot import Robot
from survey_scripts.model import Survey


def build_simulation(survey: Survey, engine: str, robot: Robot,
                     duplex: bool = True) -> Simulation:
    """The callees' side of a process, sharing the robot's synthesizer cache. Their ear:
    for pocketsphinx, its own decoder with a sentence grammar of the prompts; for vosk,
    whose small models cannot follow the robot's synthetic voice, the sound of each
    prompt (SoundEar)."""
    ear: Ear | SoundEar
    if engine == "pocketsphinx":
        from speech.sphinx import SphinxRecognizer

        ear = Ear(survey, SphinxRecognizer(garbage=False))
    else:
        ear = SoundEar(survey, robot.prompts())
    return Simulation(survey, robot.synth, ear, duplex)
