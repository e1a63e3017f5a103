"""The JSON log beside a recorded call, typed and versioned, in one leaf module.

The robot writes it (dialer/robot/recorder.py); replay, the recorded line, corpora, the
store's index and the console read it, all through `CallLog.from_json`. Format 1 (before
the Line protocol's version 2) still reads: it lacks only the call progress and the end
cause. Times are seconds from the answer; `plays[].at` is in samples, since a replay
lines prompts up to the sample.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

FORMAT = 2  # 2: progress and end_cause added


@dataclass(frozen=True)
class LoggedPrompt:
    question: str | None
    kind: str
    text: str
    sha: str


@dataclass(frozen=True)
class LoggedTurn:
    prompt: LoggedPrompt
    started_s: float
    listened_from_s: float
    speech_s: tuple[float, float] | None
    ended_s: float
    recognizer: str
    grammar: str | None
    transcript: str
    raw: str | None
    rejected: bool
    confidence: float
    digits: str | None = None
    silent: bool = False
    hangup: bool = False
    interpreted: str | None = None
    decision: str | None = None
    barged_in: bool = False
    answered_early: bool = False
    latency_s: float | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LoggedTurn:
        known = set(cls.__dataclass_fields__)
        span = d.get("speech_s")
        return cls(**{**{k: v for k, v in d.items() if k in known},
                      "prompt": LoggedPrompt(**d["prompt"]),
                      "speech_s": None if span is None else (float(span[0]), float(span[1]))})


@dataclass(frozen=True)
class LoggedPlay:
    at_s: float
    at: int  # sample of the callee's channel at which the play started
    played: int  # samples of it that went out (less when cut short)


@dataclass(frozen=True)
class LoggedAnswer:
    value: str | float | None
    how: str


@dataclass(frozen=True)
class CallLog:
    attempt_id: str
    contact_id: int
    attempt: int
    survey: str
    notice: bool
    outcome: str
    answers: dict[str, LoggedAnswer]
    duration_s: float
    plays: tuple[LoggedPlay, ...]
    turns: tuple[LoggedTurn, ...]
    rate: int = 8000
    channels: tuple[str, ...] = ("robot", "callee")
    ext: str = ""
    end_cause: str | None = None  # format 2
    progress: tuple[tuple[float, str], ...] = ()  # format 2: (seconds from dialling, step)
    format: int = FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str | bytes) -> CallLog:
        """Any format so far; ValueError naming what is missing or mangled (JSON that does
        not parse is a ValueError too)."""
        try:
            d = json.loads(text)
            known = set(cls.__dataclass_fields__)
            return cls(**{
                **{k: v for k, v in d.items() if k in known},
                "answers": {q: LoggedAnswer(a["value"], a["how"])
                            for q, a in d.get("answers", {}).items()},
                "plays": tuple(LoggedPlay(p["at_s"], int(p["at"]), int(p["played"]))
                               for p in d["plays"]),
                "turns": tuple(LoggedTurn.from_dict(t) for t in d["turns"]),
                "channels": tuple(d.get("channels", ("robot", "callee"))),
                "progress": tuple((float(a), str(s)) for a, s in d.get("progress", ())),
                "format": int(d.get("format", 1))})
        except (KeyError, TypeError, AttributeError, IndexError) as e:
            raise ValueError(str(e)) from e
