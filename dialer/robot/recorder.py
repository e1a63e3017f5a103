"""Recording a call as the line carried it: a Line that keeps both directions as they pass.

It wraps any line, so the robot records the same way on every back-end. The
timeline is the far end's: sample n of the callee's channel arrived n samples
after the line answered; each prompt sits on the robot's channel from the sample
at which it started to play, cut short where the robot stopped it. The result is
one stereo FLAC (robot left, callee right, 8 kHz, time-aligned) and a JSON log of
every turn, in seconds from the answer.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile

from dialer.calllog import CallLog, LoggedAnswer, LoggedPlay, LoggedPrompt, LoggedTurn
from dialer.lines import RING_TIMEOUT_S, Dialled, Digit, EndCause, Line, Progress
from dialer.robot.call import CallRecord
from dialer.robot.turn import TurnLog
from speech.channel import RATE, ulaw_decode


class RecordingLine:
    """A Line that passes everything through and keeps what it carried. A play is placed
    where the robot was in the callee's audio when it began (samples received so far):
    on the simulated line that is the line's clock; on a real line, whose audio may
    reach the robot late, it is what the robot lived, so a replay lives it again."""

    def __init__(self, inner: Line) -> None:
        self.inner = inner
        self.paced = inner.paced
        self.echo_delay_s = inner.echo_delay_s
        self._answered_at: float | None = None  # line time of the answer
        self._incoming: list[bytes] = []
        self._received = 0  # samples of the callee's audio handed to the robot
        self.plays: list[list[Any]] = []  # [at sample, audio, samples kept]

    @property
    def progress(self) -> list[tuple[float, Progress]]:
        return self.inner.progress

    @property
    def early_media(self) -> bytes:
        return self.inner.early_media

    @property
    def end_cause(self) -> EndCause | None:
        return self.inner.end_cause

    @property
    def refusal(self) -> str | None:
        return self.inner.refusal

    @property
    def retry_after_s(self) -> float | None:
        return self.inner.retry_after_s

    async def dial(self, number: str, ring_timeout_s: float = RING_TIMEOUT_S) -> Dialled:
        dialled = await self.inner.dial(number, ring_timeout_s)
        self._answered_at = self.inner.now()
        return dialled

    def play(self, audio: bytes) -> None:
        self.plays.append([self._received, audio, len(audio)])
        self.inner.play(audio)

    def stop(self) -> None:
        if self.plays:
            at, audio, _ = self.plays[-1]
            self.plays[-1][2] = min(len(audio), self._received - at)
        self.inner.stop()

    def playing_left(self) -> int:
        return self.inner.playing_left()

    def played(self) -> int:
        return self.inner.played()

    def elapsed(self) -> int:
        return self.inner.elapsed()

    async def receive(self, n: int) -> bytes:
        data = await self.inner.receive(n)
        self._incoming.append(data)
        self._received += len(data)
        return data

    def send_digits(self, keys: str) -> None:
        self.inner.send_digits(keys)

    def digits(self) -> list[Digit]:
        return self.inner.digits()

    async def hangup(self) -> None:
        await self.inner.hangup()

    def now(self) -> float:
        return self.inner.now()

    # the recording ----------------------------------------------------------------------
    @property
    def answered_at(self) -> float:
        return self._answered_at or 0.0

    def channels(self) -> np.ndarray:
        """(samples, 2) int16: the robot left, the callee right, as the line carried them."""
        callee = ulaw_decode(b"".join(self._incoming))
        end = max([len(callee)] + [at + kept for at, _, kept in self.plays])
        out = np.zeros((end, 2), dtype=np.int16)
        out[:len(callee), 1] = callee
        for at, audio, kept in self.plays:
            out[at:at + kept, 0] = ulaw_decode(audio[:kept])
        return out

    def flac(self) -> bytes:
        buf = io.BytesIO()
        soundfile.write(buf, self.channels(), RATE, format="FLAC", subtype="PCM_16")
        return buf.getvalue()


@dataclass(frozen=True)
class LogMeta:
    """Who the recorded call was: the attempt, and whether the robot said it records."""

    attempt_id: str
    contact_id: int
    attempt: int
    survey: str
    notice: bool = True


def _turn(t: TurnLog, t0: float, engine: str) -> LoggedTurn:
    rec = t.recognition
    p = t.prompt
    return LoggedTurn(
        LoggedPrompt(p.question_id, p.kind.value, p.text,
                     hashlib.blake2b(p.text.encode(), digest_size=6).hexdigest()),
        round(t.started_s - t0, 3), round(t.listened_from_s - t0, 3),
        None if t.speech_s is None else (round(t.speech_s[0] - t0, 3),
                                         round(t.speech_s[1] - t0, 3)),
        round(t.ended_s - t0, 3), engine, p.listen.key if p.listen else None,
        t.heard.transcript, rec.raw if rec else None, bool(rec and rec.rejected),
        round(t.heard.confidence, 3), digits=t.heard.digits, silent=t.heard.silent,
        hangup=t.heard.hangup, interpreted=t.interpreted,
        decision=t.decision.value if t.decision else None, barged_in=t.barged_in,
        answered_early=t.answered_early,
        latency_s=None if t.latency_s is None else round(t.latency_s, 4))


def call_log(line: RecordingLine, record: CallRecord, engine: str, meta: LogMeta) -> CallLog:
    """Every turn as the robot decided it, in seconds from the answer: the prompt, the
    speech as endpointed, the recognizer's words and confidence, the decision."""
    t0 = line.answered_at
    return CallLog(
        meta.attempt_id, meta.contact_id, meta.attempt, meta.survey, meta.notice,
        record.outcome.value,
        {q: LoggedAnswer(a.value, a.how) for q, a in record.result.answers.items()},
        round(line.now() - t0, 3),
        tuple(LoggedPlay(round(at / RATE, 3), at, kept) for at, _, kept in line.plays),
        tuple(_turn(t, t0, engine) for t in record.turns), rate=RATE,
        end_cause=record.end_cause.value if record.end_cause else None,
        progress=tuple((round(at, 3), step.value) for at, step in record.progress))
