"""What every line back-end keeps the same way: the robot's playout against the line's
clock, call progress, early media, the end cause and received keypad tones.

One helper instead of a copy per back-end. A back-end supplies its clock (`elapsed`:
samples since the answer) and its far end; `LineBase` does the rest of the protocol's
bookkeeping. Keypad tones sent go in band (as audio) unless a back-end carries them out
of band.
"""

from __future__ import annotations

import numpy as np

from dialer.lines import Digit, EndCause, Progress
from speech import dtmf
from speech.channel import ulaw_decode, ulaw_encode


class Playout:
    """The current play: its samples (linear) and the line sample at which it started."""

    def __init__(self) -> None:
        self.audio = np.zeros(0, dtype=np.int16)
        self.at = 0

    def start(self, audio: bytes, now: int) -> None:
        self.audio, self.at = ulaw_decode(audio), now

    def stop(self, now: int) -> None:
        self.audio = self.audio[:max(0, now - self.at)]

    def clear(self) -> None:
        self.audio = self.audio[:0]

    def left(self, now: int) -> int:
        return max(0, self.at + len(self.audio) - now)

    def played(self, now: int) -> int:
        return min(len(self.audio), max(0, now - self.at))

    def mix_into(self, x: np.ndarray, a: int, delay: int, gain: float) -> None:
        """Add the play's echo (`delay` samples late, at `gain`) to `x`, which holds line
        samples a..a+len(x)."""
        b = a + len(x)
        lo, hi = max(a, self.at + delay), min(b, self.at + delay + len(self.audio))
        if lo < hi:
            src = self.audio[lo - self.at - delay:hi - self.at - delay]
            echo = src * gain
            x[lo - a:hi - a] += echo if x.dtype.kind == "f" else echo.astype(x.dtype)


class LineBase:
    """The protocol's bookkeeping; subclasses define `elapsed`, `dial`, `receive`,
    `hangup` and `now`."""

    paced = False
    echo_delay_s = 0.0

    def __init__(self) -> None:
        self.out = Playout()
        self._progress: list[tuple[float, Progress]] = []
        self._early: list[bytes] = []
        self._end: EndCause | None = None
        self._digits: list[Digit] = []
        self.refusal: str | None = None  # the network's words when it refused the call
        self.retry_after_s: float | None = None  # ...and how long it asked us to wait

    def elapsed(self) -> int:
        raise NotImplementedError

    def now(self) -> float:
        raise NotImplementedError

    # call progress and the end ------------------------------------------------------
    @property
    def progress(self) -> list[tuple[float, Progress]]:
        return self._progress

    @property
    def early_media(self) -> bytes:
        return b"".join(self._early)

    @property
    def end_cause(self) -> EndCause | None:
        return self._end

    def noted(self, step: Progress, at_s: float) -> None:
        self._progress.append((at_s, step))

    def ended(self, cause: EndCause) -> None:
        """The first cause sticks: a hang-up after the line was lost is still lost."""
        if self._end is None:
            self._end = cause

    # playout ------------------------------------------------------------------------
    def play(self, audio: bytes) -> None:
        self.out.start(audio, self.elapsed())

    def stop(self) -> None:
        self.out.stop(self.elapsed())

    def playing_left(self) -> int:
        return self.out.left(self.elapsed())

    def played(self) -> int:
        return self.out.played(self.elapsed())

    # keypad -------------------------------------------------------------------------
    def send_digits(self, keys: str) -> None:
        self.play(ulaw_encode(dtmf.tones(keys)))

    def digits(self) -> list[Digit]:
        got, self._digits = self._digits, []
        return got

    def keyed(self, digit: Digit) -> None:
        self._digits.append(digit)
