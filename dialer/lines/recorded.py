"""A recorded call as a line: the callee's side of a recording, played back to today's robot.

Each prompt the robot plays lines up with the same prompt of the recording (the
Nth play with the Nth), and from there the line gives the callee's channel as it
was recorded after that prompt began: the answer, pauses, keypad tones, echo and
all. The far end hangs up where the recording ends. If the robot now plays more
prompts than the recording holds, the line is silent: the conversation has left
the recorded course (the replay says so and stops comparing there).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from dialer.calllog import CallLog
from dialer.lines import RING_TIMEOUT_S, Dialled, EndCause, Progress
from dialer.lines.pacing import FAST, Pacing
from dialer.lines.playout import LineBase
from speech.channel import RATE, ulaw_encode
from survey_scripts.errors import AudioError


def callee_channel(path: Path) -> np.ndarray:
    """The callee's side of a recording (right channel), or the whole of a mono file, 8 kHz."""
    try:
        audio, rate = soundfile.read(str(path), dtype="int16", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as e:
        raise AudioError(f"{path}: not a readable recording ({e})") from e
    if rate != RATE:
        raise AudioError(f"{path}: recorded at {rate} Hz; healthdial records at {RATE}")
    return np.ascontiguousarray(audio[:, -1])


class RecordedLine(LineBase):
    def __init__(self, callee: np.ndarray, plays: list[int], pacing: Pacing = FAST) -> None:
        """`callee`: the callee's channel from the answer on; `plays`: the sample at which
        each of the robot's plays started in the recording."""
        super().__init__()
        self.callee, self.pacing = callee, pacing.fresh()
        self.paced = self.pacing.realtime
        self.starts = list(plays)
        self.plays = 0  # how many the robot has played
        self.off_course = False
        self._t = 0  # the robot's line time, samples
        self._offset = 0  # recording position minus line time
        self._we_hung_up = False

    @classmethod
    def from_log(cls, audio: Path, log: CallLog, pacing: Pacing = FAST) -> RecordedLine:
        return cls(callee_channel(audio), [p.at for p in log.plays], pacing)

    async def dial(self, number: str, ring_timeout_s: float = RING_TIMEOUT_S) -> Dialled:
        self.pacing.start()
        self.noted(Progress.ANSWERED, 0.0)
        return Dialled.ANSWERED

    def play(self, audio: bytes) -> None:
        if self.plays < len(self.starts):
            self._offset = self.starts[self.plays] - self._t
        else:
            self.off_course = True
        self.plays += 1
        super().play(audio)

    async def receive(self, n: int) -> bytes:
        start = self._t + self._offset
        end = min(start + n, len(self.callee)) if not self._we_hung_up else start
        got = max(0, end - start)
        if got < n and not self._we_hung_up:  # the recording ends: the callee hung up
            self.ended(EndCause.CALLEE_HUNG_UP)
        await self.pacing.until((self._t + got) / RATE)
        x = self.callee[start:end] if not self.off_course else np.zeros(got, dtype=np.int16)
        self._t += got
        return ulaw_encode(x)

    async def hangup(self) -> None:
        self.ended(EndCause.WE_HUNG_UP)
        self._we_hung_up = True

    def elapsed(self) -> int:
        return self._t

    def now(self) -> float:
        return self._t / RATE
