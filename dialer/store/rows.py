"""The store's rows as it hands them out: typed, frozen, nothing of sqlite3 outside.

Each query's columns are named in its dataclass; `typed` builds them from a cursor's
rows, so a column added to a table later is not seen until its field is added here.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field, fields
from typing import TypeVar

T = TypeVar("T")


def typed(cls: type[T], rows: list[sqlite3.Row]) -> list[T]:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    # a Row iterates its values, not its keys
    return [cls(**{k: r[k] for k in r.keys() if k in names}) for r in rows]  # noqa: SIM118


def one(cls: type[T], row: sqlite3.Row | None) -> T | None:
    return None if row is None else typed(cls, [row])[0]


@dataclass(frozen=True)
class ContactRow:
    id: int
    campaign: str
    e164: str
    ext: str
    name: str
    district: str
    language: str
    timezone: str  # the zones the number may be in, space-separated
    status: str
    attempts: int
    drops: int
    next_at: float | None
    outcome: str | None
    risk: str | None
    reason: str | None
    refusals: int = 0  # calls the trunk refused since the last attempt (no attempt used)


@dataclass(frozen=True)
class AttemptRow:
    id: str
    campaign: str
    contact_id: int
    attempt: int
    started: float
    duration: float
    outcome: str
    risk: str | None
    cpu: float
    reason: str | None


@dataclass(frozen=True)
class AnswerRow:
    attempt_id: str
    contact_id: int
    campaign: str
    question: str
    value: str | None
    how: str


@dataclass(frozen=True)
class DncRow:
    e164: str
    ext: str
    added_at: float
    source: str


@dataclass(frozen=True)
class RecordingRow:
    id: int
    audio: str
    log: str
    attempt_id: str = ""
    campaign: str = ""
    contact_id: int = 0
    started: float = 0.0
    duration: float = 0.0
    outcome: str = ""
    bytes: int = 0
    keep_until: float = 0.0
    e164: str | None = None  # joined from the contact where a query asks
    ext: str | None = None
    district: str | None = None


@dataclass(frozen=True)
class TurnRow:
    """A recorded turn, for "the worst turns of a question"."""

    recording_id: int
    turn: int
    question: str
    decision: str
    confidence: float
    rejected: int
    at_s: float
    attempt_id: str


@dataclass(frozen=True)
class TokenRow:
    id: int
    name: str
    role: str
    created: float
    expires: float | None
    revoked: float | None
    hash: str | None = None


@dataclass(frozen=True)
class SessionRow:
    csrf: str
    id: int  # the token's
    name: str
    role: str
    created: float
    expires: float | None
    revoked: float | None
    hash: str | None = None


@dataclass(frozen=True)
class AuditRow:
    at: float
    who: str
    action: str
    target: str | None
    detail: str | None


@dataclass(frozen=True)
class PipelineRow:
    """Contacts grouped by attempts made, status, zones and whether due now."""

    attempts: int
    status: str
    timezone: str
    due: int
    n: int
    next_at: float | None


@dataclass(frozen=True)
class ThroughputRow:
    minute: int
    outcome: str
    n: int


@dataclass(frozen=True)
class TurnStatRow:
    question: str
    decision: str
    n: int


@dataclass(frozen=True)
class LatencyRow:
    question: str
    bucket: float
    n: int


@dataclass(frozen=True)
class ReachRow:
    district: str
    contacts: int
    reached: int


@dataclass(frozen=True)
class LiveFigures:
    """What a running dispatcher tells the console, about once a second (the `live`
    table; JSON inside it, so a figure added later needs no migration)."""

    state: str = "active"
    reason: str | None = None
    clock: str = "fast"  # or realtime
    now: float = 0.0  # the campaign's clock: simulated on the fast clock
    lines_busy: int = 0
    line_cap: int = 0
    cps: float = 0.0
    attempts: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    started_last_min: int = 0
    completed_last_min: int = 0
    results_last_min: int = 0
    completed_per_s: float = 0.0
    wall_s: float = 0.0
    lost_batches: int = 0  # RQ batches whose worker died before taking them
    pid: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> LiveFigures:
        d = json.loads(text)
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Counts:
    """A campaign's totals: contacts by status (as shown: blocked apart) and by last
    outcome, attempts by outcome, completed contacts by risk colour."""

    status: dict[str, int]
    outcomes: dict[str, int]
    attempt_outcomes: dict[str, int]
    risk: dict[str, int]
    attempts: int
    first_start: float | None
    last_end: float | None


@dataclass(frozen=True)
class Respondent:
    """A contact with its latest answer to each question, for reports."""

    contact: ContactRow
    shown: str  # its status as shown (blocked apart from pending)
    answers: dict[str, str | None]
