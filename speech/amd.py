"""Answering-machine detection, from the audio of the first seconds of a call.

A person answers with a short "hello?" and waits; a machine plays a long
greeting and then a beep. The robot tells them apart by how long the opening
speech runs, then waits for the beep before leaving its message.
"""

from __future__ import annotations

import numpy as np

from speech.channel import RATE
from speech.endpoint import FRAME, Endpointer, EndpointParams, FrameFeeder, State

OPENING = EndpointParams(no_input_s=4.0, end_silence_s=0.8, max_speech_s=2.0)
_BEEP_FRAME = 256  # 32 ms


def opening() -> FrameFeeder:
    """The robot's ear for the first seconds after pick-up, fed as the audio arrives."""
    return FrameFeeder(Endpointer(OPENING))


def kind_of(ep: Endpointer) -> str:
    """"human" | "machine" | "silence": a greeting over 2 s is a machine."""
    if ep.state in (State.NO_INPUT, State.WAITING):
        return "silence"
    return "machine" if ep.state == State.TOO_LONG else "human"


def classify_opening(samples: np.ndarray) -> tuple[str, int]:
    """(kind, samples listened) for a whole opening at once."""
    feeder = opening()
    feeder.feed(samples)
    return kind_of(feeder.ep), feeder.ep.frames * FRAME


def find_beep(samples: np.ndarray, min_s: float = 0.2, complete: bool = True) -> int | None:
    """Where a beep ends: a run of frames whose energy sits in one tone (400-2500 Hz).
    With `complete` False more audio is still to come, so a run reaching the end of
    `samples` has not ended yet."""
    n = len(samples) // _BEEP_FRAME
    if n == 0:
        return None
    x = samples[: n * _BEEP_FRAME].astype(np.float64).reshape(n, _BEEP_FRAME)
    spec = np.abs(np.fft.rfft(x * np.hanning(_BEEP_FRAME), axis=1)) ** 2
    freqs = np.fft.rfftfreq(_BEEP_FRAME, 1 / RATE)
    peak = spec.argmax(axis=1)
    total = spec.sum(axis=1) + 1e-9
    band = spec[np.arange(n)[:, None], np.clip(peak[:, None] + np.arange(-2, 3), 0,
                                              spec.shape[1] - 1)].sum(axis=1)
    tonal = (band / total > 0.8) & (freqs[peak] > 400) & (freqs[peak] < 2500)
    tonal &= total > 1e3 * _BEEP_FRAME
    need = int(min_s * RATE / _BEEP_FRAME)
    run = 0
    for i, t in enumerate(tonal):
        run = run + 1 if t else 0
        if run >= need and ((complete and i + 1 == n) or (i + 1 < n and not tonal[i + 1])):
            return (i + 1) * _BEEP_FRAME
    return None


def beep(seconds: float = 0.5, freq: float = 1000.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.4 * np.sin(2 * np.pi * freq * t) * 32767).astype(np.int16)
