"""Results that could not be written to the store, kept to be applied on the next run.

When the store stops taking writes mid-run (disk full, made read-only), the
dispatcher stops dialling, collects the results of the calls in flight and
writes them here, beside the store if it can, else in the user's state folder
or the temporary folder, owner-only. `run` applies them before its first call;
applying is idempotent by attempt id, so nothing is lost and nothing counted twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from pathlib import Path

from dialer.wire import CallOutcome

log = logging.getLogger(__name__)


def _places(db: str) -> list[Path]:
    key = hashlib.sha256(str(Path(db).resolve()).encode()).hexdigest()[:12]
    state = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
    return [Path(f"{db}.undelivered.jsonl"), state / "healthdial" / f"undelivered-{key}.jsonl",
            Path(tempfile.gettempdir()) / f"healthdial-undelivered-{key}.jsonl"]


def save(db: str, outcomes: list[CallOutcome]) -> Path | None:
    """Append to the first place that takes the write; None if none did (then logged)."""
    text = "".join(o.to_json() + "\n" for o in outcomes)
    for place in _places(db):
        try:
            place.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(place, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            return place
        except OSError as e:
            log.warning("cannot keep undelivered results in %s (%s)", place, e.strerror)
    return None


def pending(db: str) -> list[tuple[Path, list[CallOutcome]]]:
    out = []
    for place in _places(db):
        with contextlib.suppress(FileNotFoundError):
            lines = place.read_text(encoding="utf-8").splitlines()
            out.append((place, [CallOutcome.from_json(x) for x in lines if x.strip()]))
    return out


def done(place: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        place.unlink()
