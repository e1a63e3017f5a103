"""Line time against the wall clock: how a back-end paces the audio it hands the robot.

Fast: line time is simulated and nothing waits. Paced: audio arrives when the wall
clock reaches it, `speed` times faster than life (tests run a paced call at 8x);
an optional meter notes how late each wake-up was.
"""

from __future__ import annotations

import asyncio
import time

from dialer.meter import Meter


class Pacing:
    def __init__(self, realtime: bool = False, speed: float = 1.0,
                 meter: Meter | None = None) -> None:
        self.realtime, self.speed, self.meter = realtime, speed, meter
        self._origin: float | None = None

    def start(self) -> None:
        """Line time 0 is now."""
        self._origin = time.monotonic()

    async def until(self, line_s: float) -> None:
        """Wait until `line_s` of line time has passed since `start` (fast: no wait)."""
        if not self.realtime:
            return
        if self._origin is None:
            self.start()
        assert self._origin is not None
        deadline = self._origin + line_s / self.speed
        if deadline > time.monotonic():
            await asyncio.sleep(deadline - time.monotonic())
        if self.meter:
            self.meter.woke(max(0.0, time.monotonic() - deadline))

    def fresh(self) -> Pacing:
        """The same pacing for another call (each call has its own line time)."""
        return Pacing(self.realtime, self.speed, self.meter)


FAST = Pacing()
