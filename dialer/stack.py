"""Builds the speech stack of one process: synthesizer, robot, and the callees' ear."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from dialer.call import Robot
from dialer.callee import Ear, SoundEar
from dialer.wire import EngineSpec
from speech.engines import choose, make_recognizer
from speech.listener import Listener
from speech.tts import Synthesizer
from survey_scripts.dialog import every_prompt
from survey_scripts.loader import load_survey
from survey_scripts.model import Survey

log = logging.getLogger(__name__)
DEFAULT_SCRIPT = Path(__file__).resolve().parent.parent / "survey_scripts" / "covid19_symptoms.yaml"


@dataclass
class Stack:
    survey: Survey
    robot: Robot
    ear: Ear | SoundEar
    engine: str

    def hear_every_prompt(self) -> None:
        """The callees hear each of the robot's prompts now, once per process, so no
        turn waits while a prompt is heard for the first time (seconds in all)."""
        self.ear.warm([self.robot.say(p.text) for p in every_prompt(self.survey)])


def default_engine(survey: Survey) -> EngineSpec:
    return EngineSpec(*choose(None, None, survey.language.code))


def build_stack(survey: Survey | None = None, engine: EngineSpec | None = None) -> Stack:
    survey = survey or load_survey(DEFAULT_SCRIPT)
    engine = engine or default_engine(survey)
    robot_rec = make_recognizer(engine)
    log.info("recognition engine: %s", robot_rec.name)
    synth = Synthesizer()
    robot = Robot(survey, synth, Listener(robot_rec))
    return Stack(survey, robot, _ear(survey, engine, robot), robot_rec.name)


def _ear(survey: Survey, engine: EngineSpec, robot: Robot) -> Ear | SoundEar:
    """The callees' ear: for pocketsphinx, its own decoder with a sentence grammar of the
    prompts; for vosk, whose small models cannot follow the robot's synthetic voice, the
    sound of each prompt (see SoundEar)."""
    if engine.engine == "pocketsphinx":
        from speech.sphinx import SphinxRecognizer

        return Ear(survey, SphinxRecognizer(garbage=False))
    return SoundEar(survey, {p.text: robot.say(p.text) for p in every_prompt(survey)})
