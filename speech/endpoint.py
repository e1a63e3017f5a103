"""End-of-speech detection: stop listening when the callee has finished, not after a fixed time."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

FRAME = 160  # 20 ms at 8 kHz


@dataclass(frozen=True)
class EndpointParams:
    """Timings of turn-taking; defaults suit short survey answers."""

    no_input_s: float = 5.0  # silence this long before any speech: the callee said nothing
    end_silence_s: float = 0.7  # this much silence after speech: the turn is over
    max_speech_s: float = 10.0  # cut a callee who talks on
    min_speech_s: float = 0.08  # shorter bursts are clicks, not speech
    margin_db: float = 12.0  # speech stands this far above the noise floor
    floor_dbfs: float = -55.0  # the quietest floor assumed


class State(StrEnum):
    WAITING = "waiting"
    SPEAKING = "speaking"
    DONE = "done"  # end of speech found
    NO_INPUT = "no_input"
    TOO_LONG = "too_long"


class Endpointer:
    """Feed 20 ms frames as they arrive; `state` says when the turn is over."""

    def __init__(self, params: EndpointParams | None = None) -> None:
        self.p = params or EndpointParams()
        self.state = State.WAITING
        self.frames = 0
        self.start = 0  # first frame of speech
        self.end = 0  # frame after the last frame of speech
        self._floor = self.p.floor_dbfs
        self._voiced_run = 0
        self._quiet_run = 0
        # the timings in whole frames, the one measure both pushing and `frames_left` use
        self._min_run = max(1, round(self.p.min_speech_s / 0.02))
        self._no_input = _frames(self.p.no_input_s)
        self._end_silence = _frames(self.p.end_silence_s)
        self._max_speech = _frames(self.p.max_speech_s)

    def frames_left(self) -> int:
        """The fewest frames before the turn could be over, whatever they hold: a line can
        sleep that long without deciding later (one wake-up per 0.7 s, not per packet)."""
        if self.state not in (State.WAITING, State.SPEAKING):
            return 0
        if self.state == State.SPEAKING:
            too_long = self._max_speech - (self.frames - self.start)
            return max(1, min(self._end_silence - self._quiet_run, too_long))
        no_input = self._no_input - self.frames
        return max(1, min(self._min_run - self._voiced_run + self._end_silence, no_input))

    def push(self, frame: np.ndarray) -> State:
        return self.push_level(float(levels(frame)[0]))

    def push_level(self, level: float) -> State:
        """One frame, by its level in dBFS (see `levels`, which does many frames at once)."""
        if self.state not in (State.WAITING, State.SPEAKING):
            return self.state
        voiced = level > self._floor + self.p.margin_db
        if not voiced:  # track the noise floor on quiet frames only
            self._floor = max(self.p.floor_dbfs, 0.95 * self._floor + 0.05 * level)
        self.frames += 1
        if self.state == State.WAITING:
            self._voiced_run = self._voiced_run + 1 if voiced else 0
            if self._voiced_run >= self._min_run:
                self.state = State.SPEAKING
                self.start = self.frames - self._voiced_run
                self.end = self.frames
            elif self.frames >= self._no_input:
                self.state = State.NO_INPUT
            return self.state
        self._quiet_run = 0 if voiced else self._quiet_run + 1
        if voiced:
            self.end = self.frames
        if self._quiet_run >= self._end_silence:
            self.state = State.DONE
        elif self.frames - self.start >= self._max_speech:
            self.end = self.frames
            self.state = State.TOO_LONG
        return self.state


def _frames(seconds: float) -> int:
    """Whole frames to cover `seconds` (0.7 s is 35 frames, though 0.7 / 0.02 is a hair
    over 35 in floating point)."""
    return max(1, math.ceil(seconds / 0.02 - 1e-6))


def levels(samples: np.ndarray) -> np.ndarray:
    """The level of each whole 20 ms frame in dBFS, in one pass (a frame at a time cost
    more than the rest of the listening turn)."""
    n = len(samples) // FRAME
    x = samples[:n * FRAME].astype(np.float64).reshape(n, FRAME) / 32768
    rms = np.sqrt(np.mean(x * x, axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-6))


def frames(samples: np.ndarray) -> list[np.ndarray]:
    n = len(samples) // FRAME
    return [samples[i * FRAME:(i + 1) * FRAME] for i in range(n)]
