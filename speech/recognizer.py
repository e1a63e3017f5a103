"""Offline recognition behind one interface, grammar-constrained per question."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from speech.audio import Audio
from survey_scripts.errors import EngineError


@dataclass(frozen=True)
class Grammar:
    """The phrases one turn can be answered with; `key` names it for caching."""

    key: str
    phrases: tuple[str, ...]
    fillers: tuple[str, ...] = ()
    loop: bool = False  # any sequence of `phrases` (e.g. the sentences of known prompts)


@dataclass(frozen=True)
class Recognition:
    transcript: str  # "" when rejected
    confidence: float  # 0..1; 0 when rejected
    rejected: bool = False
    raw: str = ""  # what the decoder said before rejection, for diagnosis


class Recognizer(Protocol):
    name: str

    def recognize(self, audio: Audio, grammar: Grammar) -> Recognition:
        """Decode one utterance (any rate; engines resample) within `grammar`."""
        ...


class FakeRecognizer:
    """For unit tests: returns scripted results in order, like httpx's MockTransport."""

    name = "fake"

    def __init__(self, results: list[Recognition]) -> None:
        self.results = list(results)
        self.grammars: list[Grammar] = []

    def recognize(self, audio: Audio, grammar: Grammar) -> Recognition:
        self.grammars.append(grammar)
        return self.results.pop(0)


def make_recognizer(engine: str, vosk_model: str | None = None) -> Recognizer:
    """The engine asked for; pocketsphinx needs no download, vosk needs a model directory."""
    if engine == "pocketsphinx":
        from speech.sphinx import SphinxRecognizer

        return SphinxRecognizer()
    if engine == "vosk":
        from speech.voskengine import VoskRecognizer, default_model

        path = Path(vosk_model) if vosk_model else default_model()
        return VoskRecognizer(path)
    raise EngineError(f"unknown recognition engine {engine!r}: use pocketsphinx or vosk")
