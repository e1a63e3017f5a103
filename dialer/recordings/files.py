"""Recorded calls on the store's machine: written owner-only, listed, purged.

A recording arrives with its call's result (a stereo FLAC and a JSON log, see
dialer/robot/recorder.py), over the embedded queue or Redis alike, and is written
when the result is applied, once. Files live beside the store, in
`<db>.recordings/<campaign>/`, named by attempt id (campaign, contact, attempt: no
phone number), readable by their owner only. They are kept for the campaign's
`keep_days`, purged when `run` starts and by `healthdial purge`; an opt-out purges
every recording of that number at once, corpus copies included.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from dialer.calllog import CallLog
from dialer.policy.settings import CampaignSettings
from dialer.store import Store
from dialer.wire import CallOutcome

log = logging.getLogger(__name__)


def folder(db: str, campaign: str) -> Path:
    path = Path(f"{db}.recordings") / campaign
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    return path


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def save(store: Store, campaign: str, r: CallOutcome, settings: CampaignSettings) -> int | None:
    """Write a result's recording and note it in the store; None if it has none."""
    if r.recording is None or r.log is None:
        return None
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", r.id)
    where = folder(store.path, campaign)  # the store's real path: absolute, whatever the cwd
    audio, text = where / f"{name}.flac", where / f"{name}.json"
    try:
        _write(audio, r.recording)
        _write(text, r.log.encode("utf-8"))
    except OSError:  # a full disk: no half recording left behind, unindexed and unpurged
        for path in (audio, text):
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    turns = [(i, t.prompt.question, t.decision, t.confidence, int(t.rejected),
              t.listened_from_s) for i, t in enumerate(CallLog.from_json(r.log).turns)]
    keep = time.time() + settings.keep_days * 86400
    return store.add_recording(campaign, r, str(audio), str(text),
                               len(r.recording) + len(r.log), keep, turns)


@dataclass
class Purged:
    """What a purge removed: files deleted, and index rows whose files were already gone
    (counted apart: a purge never claims what it did not do)."""

    removed: int = 0
    missing: int = 0
    failed: list[str] = field(default_factory=list)  # kept in the index, to try again

    def __str__(self) -> str:
        text = f"purged {self.removed} recordings"
        if self.missing:
            text += f"; {self.missing} more were listed but their files were already gone"
        if self.failed:
            text += (f"; {len(self.failed)} could not be deleted and stay listed "
                     f"({self.failed[0]})")
        return text


def _delete(store: Store, rows: list[tuple[int, str, str]]) -> Purged:
    out, gone = Purged(), []
    for rid, audio, text in rows:
        found = False
        try:
            for path in (audio, text, *store.corpus_copies(rid)):
                with contextlib.suppress(FileNotFoundError):
                    Path(path).unlink()
                    found = found or path == audio
        except OSError as e:
            out.failed.append(f"{Path(audio).name}: {e.strerror}")
            continue
        _unlist_corpus_copies(store.corpus_copies(rid))
        gone.append(rid)
        if found:
            out.removed += 1
        else:
            out.missing += 1
    store.forget_recordings(gone)
    return out


def _unlist_corpus_copies(paths: list[str]) -> None:
    """A corpus copy is also a row of its folder's manifest.csv: take the row out too."""
    for path in paths:
        manifest = Path(path).parent / "manifest.csv"
        with contextlib.suppress(FileNotFoundError):
            lines = manifest.read_text(encoding="utf-8").splitlines(keepends=True)
            kept = [x for x in lines if not x.startswith(f"{Path(path).name},")]
            if len(kept) != len(lines):
                manifest.write_text("".join(kept), encoding="utf-8")


def purge_expired(store: Store, now: float | None = None) -> Purged:
    """Every recording past its campaign's keep_days, files and corpus copies."""
    rows = store.expired_recordings(time.time() if now is None else now)
    done = _delete(store, [(r.id, r.audio, r.log) for r in rows])
    if done.removed or done.missing or done.failed:
        log.info("%s, past their keeping time", done)
    return done


def purge_number(store: Store, e164: str, ext: str = "") -> Purged:
    """An opt-out: every recording of the number, in every campaign, at once."""
    rows = store.recordings_of_number(e164, ext)
    return _delete(store, [(r.id, r.audio, r.log) for r in rows])
