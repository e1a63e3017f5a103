"""One listening turn: endpointing, keypad tones, then recognition, all from the audio."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from speech import dtmf
from speech.audio import Audio
from speech.channel import RATE
from speech.endpoint import FRAME, Endpointer, EndpointParams, State, levels
from speech.recognizer import Grammar, Recognition, Recognizer
from survey_scripts.dialog import Heard

_MARGIN = 5  # frames kept either side of speech (100 ms); 200 ms cost 11% more, no gain


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
        hearing = self.hearing(grammar)
        hearing.feed(incoming)
        return hearing.finish()

    def hearing(self, grammar: Grammar) -> Hearing:
        return Hearing(self, grammar)


class Hearing:
    """One turn fed as the audio arrives: endpointing per chunk, recognition at the end.

    Recognition waits for the end of speech: the model's cepstral mean is taken over
    the whole utterance, and an answer of about a second decodes in some 25 ms.
    """

    def __init__(self, listener: Listener, grammar: Grammar) -> None:
        self._listener = listener
        self._grammar = grammar
        self._ep = Endpointer(listener.params)
        self._chunks: list[np.ndarray] = []
        self._rest = np.zeros(0, dtype=np.int16)

    def feed(self, samples: np.ndarray) -> bool:
        """Take the next samples off the line; True once the turn is over."""
        if self.over:
            return True
        self._chunks.append(samples)
        buf = np.concatenate([self._rest, samples]) if len(self._rest) else samples
        whole = len(buf) // FRAME * FRAME
        self._rest = buf[whole:]
        for level in levels(buf[:whole]).tolist():
            if self._ep.push_level(level) not in (State.WAITING, State.SPEAKING):
                return True
        return False

    @property
    def over(self) -> bool:
        return self._ep.state not in (State.WAITING, State.SPEAKING)

    def samples_left(self) -> int:
        """The fewest samples still to arrive before the turn could be over."""
        return max(1, self._ep.frames_left() * FRAME - len(self._rest))

    @property
    def listened_s(self) -> float:
        """Line time from the start of the turn to the frame that ended it."""
        return self._ep.frames * FRAME / RATE

    def finish(self) -> Turn:
        """What the callee did: silence, keypad tones or speech, and what the speech said."""
        ep, consumed = self._ep, self.listened_s
        incoming = np.concatenate(self._chunks) if self._chunks else self._rest
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
        rec = self._listener.recognizer.recognize(Audio(speech, RATE), self._grammar)
        heard = Heard(transcript=rec.transcript, confidence=rec.confidence)
        return Turn(heard, rec, consumed)
