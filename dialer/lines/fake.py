"""A scripted Line for tests: the far end's audio given in advance, like httpx's MockTransport.

The far end is a list of sounds placed by line time; it can hang up at a given
moment or never answer. What the robot played is kept, to assert on.
"""

from __future__ import annotations

import numpy as np

from dialer.lines import Dialled
from speech.channel import RATE, ulaw_decode, ulaw_encode


class FakeLine:
    paced = False
    cpu_s = 0.0

    def __init__(self, sounds: list[tuple[float, np.ndarray]] | None = None,
                 dialled: Dialled = Dialled.ANSWERED, hangup_s: float | None = None,
                 respond: dict[int, np.ndarray] | None = None, echo: float = 0.0) -> None:
        """`sounds`: (at seconds, 8 kHz samples); `respond`: the sound to start when the
        robot's Nth prompt ends (0-based); `hangup_s`: the far end hangs up then; `echo`:
        the gain at which the robot's own audio comes back, as it plays."""
        self.echo = echo
        self.sounds = [(int(at * RATE), x) for at, x in (sounds or [])]
        self.dialled, self.respond = dialled, respond or {}
        self.hangup_at = None if hangup_s is None else int(hangup_s * RATE)
        self.played: list[tuple[float, bytes]] = []  # (line time, audio) of each prompt
        self.hung_up_by_robot = False
        self._t = 0
        self._out = np.zeros(0, dtype=np.int16)
        self._out_at = 0

    async def dial(self, number: str) -> Dialled:
        return self.dialled

    def play(self, audio: bytes) -> None:
        n = len(self.played)
        self.played.append((self._t / RATE, audio))
        self._out, self._out_at = ulaw_decode(audio), self._t
        if n in self.respond:
            self.sounds.append((self._t + len(audio), self.respond[n]))

    def stop(self) -> None:
        self._out = self._out[:self._t - self._out_at]

    def playing_left(self) -> int:
        return max(0, self._out_at + len(self._out) - self._t)

    async def receive(self, n: int) -> bytes:
        end = self._t + n
        if self.hangup_at is not None:
            end = min(end, max(self._t, self.hangup_at))
        x = np.zeros(end - self._t, dtype=np.int32)
        for at, sound in self.sounds:
            lo, hi = max(self._t, at), min(end, at + len(sound))
            if lo < hi:
                x[lo - self._t:hi - self._t] += sound[lo - at:hi - at]
        lo, hi = max(self._t, self._out_at), min(end, self._out_at + len(self._out))
        if self.echo and lo < hi:
            x[lo - self._t:hi - self._t] += (self._out[lo - self._out_at:hi - self._out_at]
                                             * self.echo).astype(np.int32)
        self._t = end
        return ulaw_encode(np.clip(x, -32768, 32767).astype(np.int16))

    async def hangup(self) -> None:
        self.hung_up_by_robot = True
        self.hangup_at = self._t

    def now(self) -> float:
        return self._t / RATE
