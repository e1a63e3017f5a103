"""The Line seam: what the robot needs of a phone line, and nothing of what is behind it.

    dial(number) -> Dialled      the network's answer: answered, busy, no answer, invalid
    play(audio)                  send 8 kHz mu-law from the line's present on; the line
                                 paces it
    stop()                       cut what is playing short (barge-in)
    playing_left() -> int        samples of what was played not yet sent
    receive(n) -> bytes          the next n samples from the far end, as they arrive; fewer
                                 when the far end hangs up (its hang-up is this event)
    hangup()                     end the call from our side
    now() -> float               line time, seconds since dialling

Both directions run at once (full duplex): audio keeps arriving while the robot
speaks, and it is the robot's reading that moves the line's time on. On the fast
clock reading costs no waiting; on a paced line (`paced`), `receive` returns when
the wall clock reaches the audio asked for. Keypad tones are audio both ways.

Back-ends: `lines.simulated` (the population of simulated callees), `lines.fake`
(scripted audio, for tests), `lines.recorded` (replaying recorded calls), SIP
later. The robot (dialer/robot) knows only this protocol.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class Dialled(StrEnum):
    """What the network says of a dialled number."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    INVALID = "invalid"
    FAILED = "failed"  # the line itself failed: our failure, not the callee's


class Line(Protocol):
    paced: bool  # audio arrives by the wall clock (turn latencies mean something)

    @property
    def cpu_s(self) -> float:
        """CPU the back-end spent on this call in this process (0 on a real line)."""
        ...

    async def dial(self, number: str) -> Dialled: ...

    def play(self, audio: bytes) -> None: ...

    def stop(self) -> None: ...

    def playing_left(self) -> int: ...

    async def receive(self, n: int) -> bytes: ...

    async def hangup(self) -> None: ...

    def now(self) -> float: ...
