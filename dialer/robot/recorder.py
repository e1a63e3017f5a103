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
import json
from typing import Any

import numpy as np
import soundfile

from dialer.lines import Dialled, Line
from dialer.robot.call import CallRecord
from speech.channel import RATE, ulaw_decode

FORMAT = 1  # the layout of recordings and their logs; bumped if either changes


class RecordingLine:
    """A Line that passes everything through and keeps what it carried."""

    def __init__(self, inner: Line) -> None:
        self.inner = inner
        self.paced = inner.paced
        self._answered_at: float | None = None  # line time of the answer
        self._incoming: list[bytes] = []
        self._received = 0  # samples from the far end since the answer
        self.plays: list[list[Any]] = []  # [at sample, audio, samples kept]

    @property
    def cpu_s(self) -> float:
        return self.inner.cpu_s

    async def dial(self, number: str) -> Dialled:
        dialled = await self.inner.dial(number)
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

    async def receive(self, n: int) -> bytes:
        data = await self.inner.receive(n)
        self._incoming.append(data)
        self._received += len(data)
        return data

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


def call_log(line: RecordingLine, record: CallRecord, engine: str,
             meta: dict[str, Any]) -> dict[str, Any]:
    """Every turn as the robot decided it, in seconds from the answer: the prompt, the
    speech as endpointed, the recognizer's words and confidence, the decision."""
    t0 = line.answered_at
    turns = []
    for t in record.turns:
        rec = t.recognition
        turns.append({
            "prompt": {"question": t.prompt.question_id, "kind": t.prompt.kind.value,
                       "text": t.prompt.text,
                       "sha": hashlib.blake2b(t.prompt.text.encode(), digest_size=6).hexdigest()},
            "started_s": round(t.started_s - t0, 3),
            "listened_from_s": round(t.listened_from_s - t0, 3),
            "speech_s": None if t.speech_s is None else [round(x - t0, 3) for x in t.speech_s],
            "ended_s": round(t.ended_s - t0, 3),
            "recognizer": engine,
            "grammar": t.prompt.listen.key if t.prompt.listen else None,
            "transcript": t.heard.transcript, "raw": rec.raw if rec else None,
            "rejected": bool(rec and rec.rejected), "confidence": round(t.heard.confidence, 3),
            "digits": t.heard.digits, "silent": t.heard.silent, "hangup": t.heard.hangup,
            "interpreted": t.interpreted, "decision": t.decision.value if t.decision else None,
            "barged_in": t.barged_in, "answered_early": t.answered_early,
            "latency_s": None if t.latency_s is None else round(t.latency_s, 4)})
    return {"format": FORMAT, **meta, "outcome": record.outcome.value,
            "answers": {q: {"value": a.value, "how": a.how}
                        for q, a in record.result.answers.items()},
            "duration_s": round(line.now() - t0, 3), "rate": RATE,
            "channels": ["robot", "callee"],
            # in samples too: a replay lines prompts up to the sample, as frames are cut
            "plays": [{"at_s": round(at / RATE, 3), "at": at, "played": kept}
                      for at, _, kept in line.plays],
            "turns": turns}


def dumps(log: dict[str, Any]) -> str:
    return json.dumps(log, ensure_ascii=False, indent=1)
