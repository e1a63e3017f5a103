"""End-of-speech detection: stop listening when the callee has finished, not after a fixed time."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

FRAME = 160  # 20 ms at 8 kHz
_FULL_SCALE = FRAME * 32768.0**2  # a frame's sum of squares at 0 dBFS


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

    @property
    def over(self) -> bool:
        """The turn is decided: speech ended, never came, or ran too long."""
        return self.state not in (State.WAITING, State.SPEAKING)

    def frames_left(self) -> int:
        """The fewest frames before the turn could be over, whatever they hold: a line can
        sleep that long without deciding later (one wake-up per 0.7 s, not per packet)."""
        if self.over:
            return 0
        if self.state == State.SPEAKING:
            too_long = self._max_speech - (self.frames - self.start)
            return max(1, min(self._end_silence - self._quiet_run, too_long))
        no_input = self._no_input - self.frames
        return max(1, min(self._min_run - self._voiced_run + self._end_silence, no_input))

    def push(self, frame: np.ndarray) -> State:
        return self.push_level(float(levels(frame)[0]))

    def push_level(self, level: float, gate: float | None = None) -> State:
        """One frame, by its level in dBFS (see `levels`, which does many frames at once).
        `gate`: while the robot plays, the level its own echo could reach; only sound
        above it is the callee's, and the noise floor is not learnt from the echo."""
        if self.over:
            return self.state
        voiced = level > self._floor + self.p.margin_db and (gate is None or level > gate)
        if not voiced and gate is None:  # track the noise floor on quiet frames only
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
    more than the rest of the listening turn); float32 and one fused sum of squares: a
    third less than float64 means, levels equal to within 1e-5 dB."""
    n = len(samples) // FRAME
    x = samples[:n * FRAME].reshape(n, FRAME).astype(np.float32)
    power = np.einsum("ij,ij->i", x, x) / _FULL_SCALE
    return 10 * np.log10(np.maximum(power, 1e-12))


class FrameFeeder:
    """Audio as it arrives, whatever the size of each piece, in whole 20 ms frames into an
    endpointer. A reference (what the robot played at the same moments, same length)
    gates the robot's own echo: a frame is the callee's only if it stands within
    ERL_DB of the loudest reference frame of the last ECHO_TAIL frames (G.168 assumes
    a line returns at least 6 dB less than it is sent)."""

    ECHO_TAIL = 4  # frames: echo comes back up to 80 ms after the sound that made it
    ERL_DB = 10.0

    def __init__(self, ep: Endpointer, echo_delay_s: float = 0.0) -> None:
        """`echo_delay_s`: how late the line returns the robot's voice (a network round
        trip on a real line); the gate holds that much longer than ECHO_TAIL covers."""
        self.ep = ep
        self._rest = np.zeros(0, dtype=np.int16)
        self._ref_rest = np.zeros(0, dtype=np.int16)  # the reference under `_rest`
        tail = max(self.ECHO_TAIL, math.ceil(echo_delay_s / 0.02 - 1e-9) + 2)
        self._ref_levels: deque[float] = deque([-120.0] * tail, maxlen=tail)

    def feed(self, samples: np.ndarray, reference: np.ndarray | None = None) -> bool:
        """Take the next samples off the line; True once the turn is over."""
        if self.ep.over:
            return True
        buf = np.concatenate([self._rest, samples]) if len(self._rest) else samples
        whole = len(buf) // FRAME * FRAME
        gates = self._gates(reference, len(samples), whole)
        self._rest = buf[whole:]
        for i, level in enumerate(levels(buf[:whole]).tolist()):
            if self.ep.push_level(level, None if gates is None else gates[i]) not in (
                    State.WAITING, State.SPEAKING):
                return True
        return False

    def prime(self, reference: np.ndarray) -> None:
        """What the robot played just before the first sample to come (its echo is still
        on its way back): the gate holds for the frames it covers."""
        for level in levels(reference[len(reference) % FRAME:]).tolist():
            self._ref_levels.append(level)

    def _gates(self, reference: np.ndarray | None, n: int, whole: int) -> list[float] | None:
        """The echo gate of each whole frame; None when no echo can be in them."""
        echoing = reference is not None or self._ref_rest.any() or max(self._ref_levels) > -100
        if not echoing:
            self._ref_rest = np.zeros(len(self._rest) + n - whole, dtype=np.int16)
            return None
        ref = np.zeros(n, dtype=np.int16)
        if reference is not None:  # a line may deliver more than was played: quiet then
            ref[:min(n, len(reference))] = reference[:n]
        rbuf = np.concatenate([self._ref_rest, ref])
        self._ref_rest = rbuf[whole:]
        out = []
        for level in levels(rbuf[:whole]).tolist():
            self._ref_levels.append(level)
            out.append(max(self._ref_levels) - self.ERL_DB)
        return out

    def samples_left(self) -> int:
        """The fewest samples still to arrive before the turn could be over."""
        return max(1, self.ep.frames_left() * FRAME - len(self._rest))

    @property
    def listened_s(self) -> float:
        """Line time from the first sample fed to the frame that ended the turn."""
        return self.ep.frames * FRAME / 8000


def frames(samples: np.ndarray) -> list[np.ndarray]:
    n = len(samples) // FRAME
    return [samples[i * FRAME:(i + 1) * FRAME] for i in range(n)]
