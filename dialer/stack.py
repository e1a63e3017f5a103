"""Builds the speech stack of one process: synthesizer, robot, and the callees' ear."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from dialer.call import Robot
from dialer.callee import Ear
from speech.listener import Listener
from speech.recognizer import Recognizer, make_recognizer
from speech.tts import Synthesizer
from survey_scripts.dialog import every_prompt
from survey_scripts.loader import load_survey
from survey_scripts.model import Survey

log = logging.getLogger(__name__)
DEFAULT_SCRIPT = Path(__file__).resolve().parent.parent / "survey_scripts" / "covid19_symptoms.yaml"


@dataclass(frozen=True)
class EngineChoice:
    """Which recognizer the robot uses; pocketsphinx unless a Vosk model is configured."""

    engine: str = "pocketsphinx"
    vosk_model: str | None = None

    @classmethod
    def pick(cls, engine: str | None, vosk_model: str | None, language: str) -> EngineChoice:
        if engine is None:
            engine = "vosk" if vosk_model or language != "en" else "pocketsphinx"
        return cls(engine, vosk_model)


@dataclass
class Stack:
    survey: Survey
    robot: Robot
    ear: Ear
    engine: str

    def hear_every_prompt(self) -> None:
        """The callees hear each of the robot's prompts now, once per process, so no
        turn waits while a prompt is heard for the first time (seconds in all)."""
        self.ear.warm([self.robot.say(p.text) for p in every_prompt(self.survey)])


def build_stack(script: str | Path | None, choice: EngineChoice | None = None) -> Stack:
    survey = load_survey(script or DEFAULT_SCRIPT)
    choice = choice or EngineChoice.pick(None, None, survey.language.code)
    robot_rec = make_recognizer(choice.engine, choice.vosk_model)
    log.info("recognition engine: %s", robot_rec.name)
    ear_rec = _ear_recognizer(choice, robot_rec)
    synth = Synthesizer()
    robot = Robot(survey, synth, Listener(robot_rec))
    return Stack(survey, robot, Ear(survey, ear_rec), robot_rec.name)


def _ear_recognizer(choice: EngineChoice, robot_rec: Recognizer) -> Recognizer:
    """The callees' ear: the same kind of engine, its own decoder, no rejection pass."""
    if choice.engine == "pocketsphinx":
        from speech.sphinx import SphinxRecognizer

        return SphinxRecognizer(garbage=False)
    return robot_rec
