"""Wire messages between the dispatcher and the workers, in one leaf module.

It imports nothing of healthdial: the dispatcher, the store and the workers
all speak these types, and none of them has to import another to do so. The
embedded pool pickles them; RQ pickles a Batch as a job argument and results
travel through Redis as JSON (`CallOutcome.to_json`).

Nothing secret travels here: no Redis URL or password (a worker uses its own
connection), and over RQ no survey text (a worker fetches it by its hash).
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field, replace

# the end causes (dialer.lines.EndCause) of a call the trunk would not place: neither
# uses an attempt or counts a drop; the first waits (Retry-After), the second pauses
REFUSED = "refused"
UNAUTHORIZED = "unauthorized"


@dataclass(frozen=True)
class EngineSpec:
    """The recognizer a campaign chose once, at load: an engine and a model by name.
    `hint` is where the model was on the store's machine; a worker on another machine
    finds the model by name instead."""

    engine: str = "pocketsphinx"
    model: str | None = None
    hint: str | None = None


@dataclass(frozen=True)
class LineConfig:
    """A campaign's line: the back-end kind (dialer/lines/registry.py) and the settings
    that travel with it. The simulation's are its population seed and its callees
    (duplex, or classic: as before full duplex). A real line's trunk is never here: it
    lives on each worker."""

    kind: str = "simulated"
    seed: int = 1
    callees: str = "duplex"
    # "simulated": a real line whose far end is the simulated population (`demo --line
    # sip`): each call tells that far end who it is; "" (people) tells nobody anything
    far_end: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> LineConfig:
        d = json.loads(text)
        return cls(str(d.get("kind", "simulated")), int(d.get("seed", 1)),
                   str(d.get("callees", "duplex")), str(d.get("far_end", "")))


@dataclass(frozen=True)
class SimSpec:
    """The simulated line's own part of one call: the population seed, the callee's local
    hour the attempt was planned for (answer rates depend on it), its callees."""

    seed: int = 1
    hour: int = 12
    callees: str = "duplex"


@dataclass(frozen=True)
class LineSpec:
    """What a worker needs to open the line for one call; the dispatcher passes it along
    unread. `sim` is set for the simulated back-end only."""

    kind: str = "simulated"
    contact: int = 0
    attempt: int = 1
    ext: str = ""
    sim: SimSpec | None = None


@dataclass(frozen=True)
class CallJob:
    id: str  # attempt id: campaign, contact, attempt (and drops): applying it is idempotent
    contact_id: int
    attempt: int
    number: str  # E.164, for the line to dial
    ext: str  # dialled as keypad tones after the line answers
    started: float  # epoch seconds: simulated on the fast clock, the wall clock's otherwise
    line: LineSpec = field(default_factory=LineSpec)


@dataclass(frozen=True)
class Batch:
    """Calls run side by side on one event loop in one worker process."""

    campaign: str
    survey_hash: str
    survey_text: str | None  # None over RQ: the worker fetches the text by its hash
    engine: EngineSpec
    realtime: bool
    calls: tuple[CallJob, ...]
    record: str = "none"  # the campaign's recording policy: none, all, failed, sample:PCT
    line: str = "simulated"  # the campaign's line kind (dialer/lines/registry.py)

    def without_text(self) -> Batch:
        return replace(self, survey_text=None)

    def only(self, ids: set[str]) -> Batch:
        return replace(self, calls=tuple(c for c in self.calls if c.id in ids))


@dataclass(frozen=True, kw_only=True)
class CallOutcome:
    """One finished attempt, as a worker reports it; `id` makes applying it idempotent."""

    id: str
    contact_id: int
    attempt: int
    started: float
    duration: float
    outcome: str
    risk: str | None = None
    answers: tuple[tuple[str, str | None, str], ...] = ()  # question, value, how
    cpu: float = 0.0
    latency_s: tuple[float, ...] = ()  # realtime: end of each answer to the next prompt
    reason: str | None = None  # why a call was dropped, or which rule failed
    end_cause: str | None = None  # dialer.lines.EndCause: why the call ended
    retry_after_s: float | None = None  # refused: the trunk asked every call to wait this long
    # per turn heard: question, decision, rejected by the recognizer, latency (paced lines)
    turns: tuple[tuple[str, str, bool, float | None], ...] = ()
    # a recorded call travels with its result (one delivery, applied once, on every
    # machine alike): stereo FLAC, and the JSON log of its turns
    recording: bytes | None = None
    log: str | None = None

    def to_json(self) -> str:
        d = asdict(self)
        d["answers"] = [list(a) for a in self.answers]
        d["latency_s"] = list(self.latency_s)
        d["turns"] = [list(t) for t in self.turns]
        if self.recording is not None:
            d["recording"] = base64.b64encode(self.recording).decode("ascii")
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str | bytes) -> CallOutcome:
        d = json.loads(text)
        known = set(cls.__dataclass_fields__)
        return cls(**{**{k: v for k, v in d.items() if k in known},
                      "answers": tuple(tuple(a) for a in d.get("answers", ())),
                      "latency_s": tuple(d.get("latency_s", ())),
                      "turns": tuple((t[0], t[1], bool(t[2]) if len(t) > 2 else False,
                                      t[3] if len(t) > 3 else None)
                                     for t in d.get("turns", ())),
                      "recording": base64.b64decode(d["recording"]) if d.get("recording")
                      else None})
