"""One listening turn: endpointing, keypad tones, then recognition, all from the audio."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from speech import dtmf
from speech.audio import Audio
from speech.channel import RATE
from speech.endpoint import FRAME, Endpointer, EndpointParams, State, frames
from speech.recognizer import Grammar, Recognition, Recognizer
from survey_scripts.dialog import Heard

_MARGIN = 10  # frames kept either side of the speech (200 ms)


@dataclass(frozen=True)
class Turn:
    heard: Heard
    recognition: Recognition | None
    consumed_s: float  # how long the robot listened before deciding


class Listener:
    def __init__(self, recognizer: Recognizer, params: EndpointParams | None = None) -> None:
        self.recognizer = recognizer
        self.params = params or EndpointParams()

    def listen(self, incoming: np.ndarray, grammar: Grammar) -> Turn:
        """Decide what the callee did in `incoming` (8 kHz samples as they arrived)."""
        ep = Endpointer(self.params)
        for f in frames(incoming):
            if ep.push(f) not in (State.WAITING, State.SPEAKING):
                break
        consumed = ep.frames * FRAME / RATE
        if ep.state in (State.WAITING, State.NO_INPUT):
            return Turn(Heard(silent=True), None, consumed)
        lo = max(0, (ep.start - _MARGIN) * FRAME)
        hi = min(len(incoming), (ep.end + _MARGIN) * FRAME)
        speech = incoming[lo:hi]
        if len(speech) == 0:
            return Turn(Heard(silent=True), None, consumed)
        digits = dtmf.detect(speech)
        if digits:
            return Turn(Heard(digits=digits, confidence=1.0), None, consumed)
        rec = self.recognizer.recognize(Audio(speech, RATE), grammar)
        heard = Heard(transcript=rec.transcript, confidence=rec.confidence)
        return Turn(heard, rec, consumed)
