"""A scripted Line for tests: the far end given in advance, like httpx's MockTransport.

Every part of the Line protocol can be scripted: call progress and early media before
the answer (or a network answer such as busy after an announcement), a far end that
answers late enough for the ring timeout, sounds placed by line time after the answer,
a far end that hangs up or a line that is lost at a given moment, keypad tones
received out of band, and an echo of the robot's own voice at a given delay. What the
robot played and the keys it sent are kept, to assert on.
"""

from __future__ import annotations

import numpy as np

from dialer.lines import NOT_ANSWERED, RING_TIMEOUT_S, Dialled, Digit, EndCause, Progress
from dialer.lines.playout import LineBase
from speech.channel import RATE, ulaw_encode


class FakeLine(LineBase):
    def __init__(self, sounds: list[tuple[float, np.ndarray]] | None = None,
                 dialled: Dialled = Dialled.ANSWERED, hangup_s: float | None = None,
                 respond: dict[int, np.ndarray] | None = None, echo: float = 0.0, *,
                 progress: list[tuple[float, Progress]] | None = None,
                 answer_s: float | None = 0.0, early: np.ndarray | None = None,
                 lost_s: float | None = None, keys: list[tuple[float, str]] | None = None,
                 out_of_band: bool = False, echo_delay_s: float = 0.0,
                 echo_late_s: float | None = None) -> None:
        """`sounds`: (at seconds after the answer, 8 kHz samples); `respond`: the sound to
        start when the robot's Nth prompt ends (0-based); `hangup_s`: the far end hangs up
        then; `lost_s`: the line is lost then; `echo`: the gain at which the robot's own
        audio comes back, `echo_delay_s` late (as the line says; `echo_late_s`: as it is,
        when the line is wrong about it). Before the answer: `progress` (seconds
        after dialling), `early` media heard meanwhile, and `answer_s`, when the network
        gives `dialled` (None: it rings for ever). `keys`: (seconds, key) received out of
        band; `out_of_band`: keys the robot sends go out of band too."""
        super().__init__()
        self.echo, self.echo_delay_s = echo, echo_delay_s
        self.echo_late_s = echo_delay_s if echo_late_s is None else echo_late_s
        self.sounds = [(int(at * RATE), x) for at, x in (sounds or [])]
        self.dialled, self.respond = dialled, respond or {}
        self.hangup_at = None if hangup_s is None else int(hangup_s * RATE)
        self.lost_at = None if lost_s is None else int(lost_s * RATE)
        self.script, self.answer_s, self.early = progress or [], answer_s, early
        self.keys = sorted((int(at * RATE), k) for at, k in (keys or []))
        self.out_of_band = out_of_band
        self.plays: list[tuple[float, bytes]] = []  # (line time, audio) of each play
        self.sent_digits: list[str] = []  # keys sent out of band
        self.hung_up_by_robot = False
        self.cancelled = False  # the ring timeout cancelled the call
        self._ring_s = 0.0  # line time before the answer
        self._t = 0  # samples since the answer

    async def dial(self, number: str, ring_timeout_s: float = RING_TIMEOUT_S) -> Dialled:
        for at, step in self.script:
            if at <= ring_timeout_s:
                self.noted(step, at)
        if self.early is not None:
            self._early.append(ulaw_encode(self.early))
        if self.answer_s is None or self.answer_s > ring_timeout_s:
            self.cancelled, self._ring_s = True, ring_timeout_s
            self.ended(EndCause.NO_ANSWER)
            return Dialled.NO_ANSWER
        self._ring_s = self.answer_s
        if self.dialled != Dialled.ANSWERED:
            self.ended(NOT_ANSWERED[self.dialled])
            return self.dialled
        self.noted(Progress.ANSWERED, self.answer_s)
        return Dialled.ANSWERED

    def play(self, audio: bytes) -> None:
        n = len(self.plays)
        self.plays.append((self.now(), audio))
        super().play(audio)
        if n in self.respond:
            self.sounds.append((self._t + len(audio), self.respond[n]))

    def send_digits(self, keys: str) -> None:
        if self.out_of_band:
            self.sent_digits.append(keys)
        else:
            super().send_digits(keys)

    def _stop_at(self) -> tuple[int, EndCause] | None:
        ends = [(at, EndCause.WE_HUNG_UP if self.hung_up_by_robot else EndCause.CALLEE_HUNG_UP)
                for at in (self.hangup_at,) if at is not None]
        ends += [(at, EndCause.LINE_LOST) for at in (self.lost_at,) if at is not None]
        return min(ends, default=None, key=lambda e: e[0])

    async def receive(self, n: int) -> bytes:
        end = self._t + n
        stop = self._stop_at()
        if stop is not None and stop[0] < end:
            end = max(self._t, stop[0])
            self.ended(stop[1])
        x = np.zeros(end - self._t, dtype=np.int32)
        for at, sound in self.sounds:
            lo, hi = max(self._t, at), min(end, at + len(sound))
            if lo < hi:
                x[lo - self._t:hi - self._t] += sound[lo - at:hi - at]
        if self.echo:
            self.out.mix_into(x, self._t, int(self.echo_late_s * RATE), self.echo)
        for at, key in self.keys:
            if self._t <= at < end:
                self.keyed(Digit(at, key))
        self._t = end
        return ulaw_encode(np.clip(x, -32768, 32767).astype(np.int16))

    async def hangup(self) -> None:
        self.ended(EndCause.WE_HUNG_UP)  # unless the call had ended already
        self.hung_up_by_robot = True
        self.hangup_at = self._t

    def elapsed(self) -> int:
        return self._t

    def now(self) -> float:
        return self._ring_s + self._t / RATE
