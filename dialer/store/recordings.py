"""Recorded calls' index rows, their turns and corpus copies (files: dialer/recordings.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from dialer.store.base import _mapped
from dialer.store.console import ConsoleTables
from dialer.store.rows import RecordingRow, TurnRow, one, typed
from dialer.wire import CallOutcome


class RecordingTables(ConsoleTables):
    # recordings -----------------------------------------------------------------------
    @_mapped
    def add_recording(self, campaign: str, r: CallOutcome, audio: str, log: str,
                      size: int, keep_until: float, turns: list[tuple[Any, ...]]) -> int:
        with self.tx():
            cur = self.db.execute(
                "INSERT OR IGNORE INTO recordings(attempt_id, campaign, contact_id, started,"
                " duration, outcome, audio, log, bytes, keep_until) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (r.id, campaign, r.contact_id, r.started, r.duration, r.outcome, audio, log,
                 size, keep_until))
            rid = int(cur.lastrowid or 0)
            self.db.executemany(
                "INSERT OR IGNORE INTO recorded_turns(recording_id, turn, question, decision,"
                " confidence, rejected, at_s) VALUES (?,?,?,?,?,?,?)",
                [(rid, *t) for t in turns])
        return rid

    @_mapped
    def recordings_of(self, campaign: str, question: str | None = None,
                      decision: str | None = None) -> list[RecordingRow]:
        """A campaign's recorded calls (with their contact's number, for masking), those
        with a turn of `question` and/or `decision` if given."""
        where = "r.campaign=?"
        args: list[str | None] = [campaign]
        if question or decision:
            where += (" AND r.id IN (SELECT recording_id FROM recorded_turns WHERE "
                      "question = COALESCE(?, question) AND decision = COALESCE(?, decision))")
            args += [question, decision]
        return typed(RecordingRow, self.db.execute(
            "SELECT r.*, c.e164, c.ext, c.district FROM recordings r JOIN contacts c ON "
            f"c.id=r.contact_id WHERE {where} ORDER BY r.started", args).fetchall())

    @_mapped
    def recording(self, rid: int) -> RecordingRow | None:
        row = self.db.execute(
            "SELECT r.*, c.e164, c.ext FROM recordings r JOIN contacts c ON c.id=r.contact_id "
            "WHERE r.id=?", (rid,)).fetchone()
        return one(RecordingRow, row)

    @_mapped
    def recordings_of_path(self, audio: str) -> list[RecordingRow]:
        return typed(RecordingRow, self.db.execute(
            "SELECT * FROM recordings WHERE audio=? OR audio=?",
            (audio, str(Path(audio).resolve()))).fetchall())

    @_mapped
    def worst_turns(self, campaign: str, question: str, limit: int = 20) -> list[TurnRow]:
        """A question's recorded turns, worst first: reprompted and rejected ones, then the
        least confident."""
        return typed(TurnRow, self.db.execute(
            "SELECT t.*, r.id AS recording_id, r.attempt_id FROM recorded_turns t JOIN "
            "recordings r ON r.id=t.recording_id WHERE r.campaign=? AND t.question=? ORDER BY "
            "(t.decision IN ('reprompted', 'keypad', 'unanswered', 'denied')) DESC, "
            "t.rejected DESC, t.confidence ASC, t.recording_id, t.turn LIMIT ?",
            (campaign, question, limit)).fetchall())

    @_mapped
    def expired_recordings(self, now: float) -> list[RecordingRow]:
        return typed(RecordingRow, self.db.execute(
            "SELECT id, audio, log FROM recordings WHERE keep_until < ?",
            (now,)).fetchall())

    @_mapped
    def recordings_of_number(self, e164: str, ext: str) -> list[RecordingRow]:
        """Every recording of a number, in every campaign (a bare number: every extension)."""
        return typed(RecordingRow, self.db.execute(
            "SELECT r.id, r.audio, r.log FROM recordings r JOIN contacts c ON c.id=r.contact_id"
            " WHERE c.e164=? AND (?='' OR c.ext=?)", (e164, ext, ext)).fetchall())

    @_mapped
    def corpus_copies(self, rid: int) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT path FROM corpus_copies WHERE recording_id=?", (rid,))]

    @_mapped
    def add_corpus_copy(self, path: str, rid: int) -> None:
        with self.tx():
            self.db.execute("INSERT OR REPLACE INTO corpus_copies(path, recording_id, made) "
                            "VALUES (?,?,?)", (path, rid, time.time()))

    @_mapped
    def forget_recordings(self, ids: list[int]) -> None:
        with self.tx():
            for table, col in (("recorded_turns", "recording_id"),
                               ("corpus_copies", "recording_id"), ("recordings", "id")):
                self.db.executemany(f"DELETE FROM {table} WHERE {col}=?", [(i,) for i in ids])
