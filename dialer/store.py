"""The durable state of every campaign: SQLite in WAL mode.

Results are applied idempotently by attempt id: a result delivered twice (a
worker retried, a run resumed) is counted once, in one transaction with the
contact's new state and the aggregates.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialer.contacts import Contact
from dialer.settings import CampaignSettings
from survey_scripts.errors import UsageError

SCHEMA = """
CREATE TABLE IF NOT EXISTS campaigns(
  name TEXT PRIMARY KEY, script TEXT NOT NULL, region TEXT NOT NULL, settings TEXT NOT NULL,
  seed INTEGER NOT NULL DEFAULT 1, start_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS contacts(
  id INTEGER PRIMARY KEY, campaign TEXT NOT NULL, e164 TEXT NOT NULL, name TEXT, district TEXT,
  language TEXT, timezone TEXT, status TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0, next_at REAL, outcome TEXT, risk TEXT,
  UNIQUE(campaign, e164));
CREATE TABLE IF NOT EXISTS attempts(
  id TEXT PRIMARY KEY, campaign TEXT NOT NULL, contact_id INTEGER NOT NULL, attempt INTEGER,
  started REAL, duration REAL, outcome TEXT, risk TEXT, cpu REAL);
CREATE TABLE IF NOT EXISTS answers(
  attempt_id TEXT NOT NULL, contact_id INTEGER NOT NULL, campaign TEXT NOT NULL,
  question TEXT NOT NULL, value TEXT, how TEXT, PRIMARY KEY(attempt_id, question));
CREATE TABLE IF NOT EXISTS optouts(e164 TEXT PRIMARY KEY, campaign TEXT, at REAL);
CREATE TABLE IF NOT EXISTS aggregates(
  campaign TEXT NOT NULL, question TEXT NOT NULL, district TEXT NOT NULL, value TEXT NOT NULL,
  n INTEGER NOT NULL, PRIMARY KEY(campaign, question, district, value));
"""


@dataclass(frozen=True)
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

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "answers": [list(a) for a in self.answers],
                "latency_s": list(self.latency_s)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CallOutcome:
        return cls(**{**d, "answers": tuple(tuple(a) for a in d["answers"]),
                      "latency_s": tuple(d.get("latency_s", ()))})


@dataclass(frozen=True)
class Campaign:
    name: str
    script: str
    region: str
    settings: CampaignSettings
    seed: int
    start_at: float


class Store:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        # one thread at a time: the dispatcher writes from its worker thread, never two at once
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                  check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def tx(self) -> sqlite3.Connection:
        """`with store.tx():` one IMMEDIATE transaction."""
        return _Tx(self.db)  # type: ignore[return-value]

    # campaigns ------------------------------------------------------------
    def ensure_campaign(self, name: str, script: str, region: str, settings: CampaignSettings,
                        seed: int, start_at: float) -> Campaign:
        with self.tx():
            self.db.execute(
                "INSERT OR IGNORE INTO campaigns(name, script, region, settings, seed, start_at)"
                " VALUES (?,?,?,?,?,?)", (name, script, region, settings.to_json(), seed, start_at))
        return self.campaign(name)

    def campaign(self, name: str) -> Campaign:
        row = self.db.execute("SELECT * FROM campaigns WHERE name=?", (name,)).fetchone()
        if row is None:
            names = [r[0] for r in self.db.execute("SELECT name FROM campaigns")]
            raise UsageError(f"no campaign {name!r} in {self.path}; load a list first "
                             f"(known: {', '.join(names) or 'none'})")
        return Campaign(row["name"], row["script"], row["region"],
                        CampaignSettings.from_json(row["settings"]), row["seed"], row["start_at"])

    # contacts -------------------------------------------------------------
    def known_numbers(self, campaign: str) -> set[str]:
        q = "SELECT e164 FROM contacts WHERE campaign=?"
        return {r[0] for r in self.db.execute(q, (campaign,))}

    def is_opted_out(self, e164: str) -> bool:
        return self.db.execute("SELECT 1 FROM optouts WHERE e164=?", (e164,)).fetchone() is not None

    def opted_out(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT e164 FROM optouts")}

    def add_contacts(self, campaign: str, contacts: list[Contact], next_at: float) -> int:
        with self.tx():
            cur = self.db.executemany(
                "INSERT OR IGNORE INTO contacts(campaign, e164, name, district, language,"
                " timezone, next_at) VALUES (?,?,?,?,?,?,?)",
                [(campaign, c.e164, c.name, c.district or "unknown", c.language, c.timezone,
                  next_at) for c in contacts])
        return cur.rowcount

    def pending(self, campaign: str) -> list[sqlite3.Row]:
        """Contacts still to call, never an opted-out number."""
        return self.db.execute(
            "SELECT * FROM contacts WHERE campaign=? AND status='pending' AND e164 NOT IN "
            "(SELECT e164 FROM optouts) ORDER BY id", (campaign,)).fetchall()

    # results --------------------------------------------------------------
    def apply(self, campaign: str, r: CallOutcome, settings: CampaignSettings) -> bool:
        """Apply one finished attempt; False if it was applied before (nothing changes)."""
        with self.tx():
            cur = self.db.execute(
                "INSERT OR IGNORE INTO attempts(id, campaign, contact_id, attempt, started,"
                " duration, outcome, risk, cpu) VALUES (?,?,?,?,?,?,?,?,?)",
                (r.id, campaign, r.contact_id, r.attempt, r.started, r.duration, r.outcome,
                 r.risk, r.cpu))
            if cur.rowcount == 0:
                return False
            contact = self.db.execute("SELECT * FROM contacts WHERE id=?",
                                      (r.contact_id,)).fetchone()
            self._update_contact(contact, r, settings)
            self.db.executemany(
                "INSERT INTO answers(attempt_id, contact_id, campaign, question, value, how)"
                " VALUES (?,?,?,?,?,?)",
                [(r.id, r.contact_id, campaign, q, v, how) for q, v, how in r.answers])
            if r.outcome == "opted_out":
                self.db.execute("INSERT OR IGNORE INTO optouts(e164, campaign, at) VALUES (?,?,?)",
                                (contact["e164"], campaign, r.started))
            if r.outcome == "completed":
                self._aggregate(campaign, contact["district"], r)
        return True

    def _update_contact(self, c: sqlite3.Row, r: CallOutcome, s: CampaignSettings) -> None:
        retry = r.outcome in s.retry_outcomes and r.attempt < s.max_attempts
        status = "pending" if retry else "done"
        next_at = r.started + r.duration + s.retry_after_s(r.attempt) if retry else None
        self.db.execute("UPDATE contacts SET status=?, attempts=?, next_at=?, outcome=?, risk="
                        "COALESCE(?, risk) WHERE id=?",
                        (status, r.attempt, next_at, r.outcome, r.risk, c["id"]))

    def _aggregate(self, campaign: str, district: str, r: CallOutcome) -> None:
        rows = [(q, "" if v is None else str(v)) for q, v, how in r.answers
                if how not in ("unanswered", "dont_know")]
        rows.append(("__risk__", r.risk or ""))
        self.db.executemany(
            "INSERT INTO aggregates(campaign, question, district, value, n) VALUES (?,?,?,?,1)"
            " ON CONFLICT(campaign, question, district, value) DO UPDATE SET n = n + 1",
            [(campaign, q, district, v) for q, v in rows])

    # reading ----------------------------------------------------------------
    def rows(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        return self.db.execute(sql, args).fetchall()

    def iter_respondents(self, campaign: str) -> Iterator[dict[str, Any]]:
        """Each contact with its latest answers, for reports (two queries in all)."""
        answers: dict[int, dict[str, Any]] = {}
        for r in self.rows("SELECT a.contact_id, a.question, a.value FROM answers a JOIN attempts"
                           " t ON t.id=a.attempt_id WHERE a.campaign=? ORDER BY t.attempt",
                           campaign):
            answers.setdefault(r["contact_id"], {})[r["question"]] = r["value"]
        for c in self.rows("SELECT * FROM contacts WHERE campaign=? ORDER BY id", campaign):
            yield {**dict(c), "answers": answers.get(c["id"], {})}

    def dump(self, campaign: str) -> str:
        """A canonical text of all results, for comparing runs."""
        rows = self.rows("SELECT c.e164, c.status, c.outcome, c.attempts, c.risk FROM contacts c"
                         " WHERE campaign=? ORDER BY e164", campaign)
        ans = self.rows("SELECT c.e164, a.question, a.value, a.how, t.attempt FROM answers a"
                        " JOIN contacts c ON c.id=a.contact_id JOIN attempts t ON t.id="
                        "a.attempt_id WHERE a.campaign=? ORDER BY 1,5,2", campaign)
        agg = self.rows("SELECT question, district, value, n FROM aggregates WHERE campaign=?"
                        " ORDER BY 1,2,3", campaign)
        return json.dumps([[list(r) for r in x] for x in (rows, ans, agg)])


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
