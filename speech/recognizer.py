"""Offline recognition behind one interface, grammar-constrained per question."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from speech.audio import Audio
from speech.confidence import Evidence


@dataclass(frozen=True)
class Grammar:
    """The phrases one turn can be answered with; `key` names it for caching."""

    key: str
    phrases: tuple[str, ...]
    fillers: tuple[str, ...] = ()
    loop: bool = False  # any sequence of `phrases` (e.g. the sentences of known prompts)
    garbage: bool = True  # speech that is none of them may come: the engine may reject it


@dataclass(frozen=True)
class Recognition:
    transcript: str  # "" when rejected
    confidence: float  # 0..1, the probability that the transcript is what was said
    rejected: bool = False  # no answer at all (silence, or speech that fits none)
    raw: str = ""  # what the decoder said, second pass included, for diagnosis
    evidence: Evidence | None = None  # what the confidence was computed from
    cpu_s: float = 0.0  # CPU spent decoding in another process (speech/decoder_process.py)


class Recognizer(Protocol):
    name: str

    def recognize(self, audio: Audio, grammar: Grammar) -> Recognition:
        """Decode one utterance (any rate; engines resample) within `grammar`."""
        ...

    def unknown_words(self, words: list[str]) -> list[str]:
        """The words this engine's dictionary cannot say (a grammar may not use them)."""
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

    def unknown_words(self, words: list[str]) -> list[str]:
        return []
