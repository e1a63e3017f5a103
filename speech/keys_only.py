"""The recognizer of a keypad survey: none. A survey answered only with keys (a
language no recognizer here knows, such as Mandarin) needs no model; its dialog never
asks for speech to be decoded, and this says so if anything does."""

from __future__ import annotations

from speech.audio import Audio
from speech.recognizer import Grammar, Recognition


class KeysOnly:
    name = "keypad"

    def recognize(self, audio: Audio, grammar: Grammar) -> Recognition:
        """Speech on a keypad survey means nothing: rejected, never guessed."""
        return Recognition("", 0.0, rejected=True, raw="(keypad survey: speech not decoded)")

    def unknown_words(self, words: list[str]) -> list[str]:
        return []
