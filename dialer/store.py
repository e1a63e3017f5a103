"""The durable state of every campaign: SQLite in WAL mode. All of healthdial's SQL is here.

Results are applied idempotently by attempt id: a result delivered twice (a
worker retried, a run resumed) is counted once, in one transaction with the
contact's new state and the aggregates. The files are owner-only: they hold
phone numbers and health answers. Every SQLite failure becomes a StoreError
that names the file and says what to do.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from dialer.aggregator import Aggregator
from dialer.contacts import Contact
from dialer.schema import migrate, survey_hash
from dialer.settings import CPS_MAX, CPS_MIN, CampaignSettings, cps_problem
from dialer.wire import CallOutcome, EngineSpec
from survey_scripts.errors import StoreError, UsageError
from survey_scripts.vocabulary import Outcome

P = ParamSpec("P")
R = TypeVar("R")


def _advice(e: sqlite3.Error) -> str:
    text = str(e).lower()
    if "readonly" in text or "read-only" in text:
        return "the file or its folder is read-only: make both writable by this user"
    if "disk is full" in text or "disk i/o" in text:
        return "the disk is full or failing: free space, then run the command again"
    if "locked" in text or "busy" in text:
        return "another process holds it: wait for it, or stop it"
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return "the file is not a healthdial store or is damaged: restore it from a backup"
    if "unable to open" in text:
        return "check that the path is a file in a folder that exists and is writable"
    return "check the file and run the command again"


def _mapped(fn: Callable[P, R]) -> Callable[P, R]:
    """SQLite errors out of a store method become a StoreError naming the file."""

    @wraps(fn)
    def inner(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except sqlite3.Error as e:
            path = getattr(args[0], "path", "the store")
            raise StoreError(f"{path}: {e}; {_advice(e)}") from e

    return inner


DEFAULT_LINES, DEFAULT_CPS = 100, 20.0


@dataclass(frozen=True)
class Control:
    """How the operator wants a campaign run; kept in the store, so it survives restarts
    and reaches every dispatcher and worker the same way, embedded or over RQ."""

    state: str = "active"  # active | paused | stopped (stopped is for good)
    reason: str | None = None  # why it was paused or stopped (the circuit breaker says)
    line_cap: int = DEFAULT_LINES
    cps: float = DEFAULT_CPS


@dataclass(frozen=True)
class Campaign:
    name: str
    script: str  # the survey file it was loaded from, for people to read
    region: str
    settings: CampaignSettings
    start_at: float
    survey_text: str | None  # the survey as loaded: frozen, whatever happens to the file
    survey_hash: str | None
    engine: EngineSpec
    line: dict[str, Any]  # the line back-end and its own settings (simulated: its seed)
    control: Control = field(default_factory=lambda: Control())

    @property
    def seed(self) -> int:
        return int(self.line.get("seed", 1))


def _owner_only(path: str) -> None:
    """Create the store owner-only, and tighten files an older release left open; SQLite
    gives the -wal and -shm files the main file's mode."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    for p in (path, f"{path}-wal", f"{path}-shm"):
        with contextlib.suppress(OSError):
            st = os.stat(p)
            if st.st_uid == os.getuid() and st.st_mode & 0o077:
                os.chmod(p, stat.S_IMODE(st.st_mode) & 0o700)


def _check_ours(p: Path, given: str) -> None:
    """Never touch a file that is not a healthdial store: no chmod, no WAL, no tables.
    A store with two hard links is refused too: SQLite keys its -wal file and we key the
    campaign lock by the name, so two names would be two stores on one file."""
    try:
        st = p.stat()
        with p.open("rb") as f:
            head = f.read(16)
    except OSError as e:
        raise StoreError(f"{given}: cannot read the store ({e.strerror})") from e
    if st.st_size == 0:
        return
    if head != b"SQLite format 3\x00":
        raise StoreError(f"{given}: not a healthdial store or is damaged (not a SQLite "
                         "database); "
                         "nothing was changed. Check --db (or $HEALTHDIAL_DB)")
    if st.st_nlink > 1:
        raise StoreError(f"{given}: the store has {st.st_nlink} hard links; healthdial "
                         "cannot tell runs through different names apart. Keep one name "
                         "(a symlink is fine)")
    try:
        db = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
        try:
            names = [r[0] for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")]
        finally:
            db.close()
    except sqlite3.Error as e:
        raise StoreError(f"{given}: cannot read the store ({e})") from e
    if names and "campaigns" not in names:
        shown = ", ".join(sorted(names)[:5]) + (", ..." if len(names) > 5 else "")
        raise StoreError(f"{given}: a SQLite database, but not a healthdial store (its tables:"
                         f" {shown}); nothing was changed. Give --db a healthdial store or "
                         "the name of a new file")


class Store:
    """Open an existing store; `create=True` makes it when missing (load, demo)."""

    def __init__(self, path: str | Path, create: bool = True) -> None:
        # the file itself, however it was named (a symlink, ./x, ../d/x): the campaign lock,
        # the recordings and the spool beside it are the same for every path to it
        self.path = os.path.realpath(path)
        p = Path(self.path)
        if p.is_dir():
            raise StoreError(f"{path}: is a folder; --db takes a file, e.g. {path}/healthdial.db")
        if not p.exists():
            if not create:
                raise StoreError(f"{path}: no such store; check --db (or $HEALTHDIAL_DB), or "
                                 "create it with `healthdial load`")
            if not p.parent.is_dir():
                raise StoreError(f"{path}: the folder {p.parent} does not exist; create it or "
                                 "give --db another path")
        else:
            _check_ours(p, str(path))
        self._open()

    @_mapped
    def _open(self) -> None:
        try:
            _owner_only(self.path)
        except OSError as e:
            raise StoreError(f"{self.path}: cannot create the store ({e.strerror}); check the "
                             "folder's permissions") from e
        # one thread at a time: the dispatcher writes from its worker thread, never two at once
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                  check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.migrated = migrate(self.db)
        except RuntimeError as e:
            raise StoreError(f"{self.path}: {e}; upgrade healthdial") from e
        except sqlite3.OperationalError as e:
            if "readonly" not in str(e).lower():
                raise
            self.migrated = []  # a read-only store can still be read, if it is current
        _owner_only(self.path)
        self.aggregator = Aggregator(self.db)

    def close(self) -> None:
        self.db.close()

    def tx(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """`with store.tx():` one IMMEDIATE transaction."""
        return _Tx(self.db)

    @_mapped
    def check_writable(self) -> None:
        """Write once before dialling: a read-only or full store fails here, not after the
        first call has been made."""
        with self.tx():
            self.db.execute("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT)")
            self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('last_run', ?)",
                            (str(time.time()),))

    # campaigns ------------------------------------------------------------
    @_mapped
    def create_campaign(self, c: Campaign, contacts: list[Contact]) -> int:
        """A new campaign and its first contacts, in one transaction; contacts added."""
        with self.tx():
            self.db.execute(
                "INSERT INTO campaigns(name, script, region, settings, seed, start_at,"
                " survey_text, survey_hash, engine, model, model_hint, line)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (c.name, c.script, c.region, c.settings.to_json(), c.seed, c.start_at,
                 c.survey_text, c.survey_hash, c.engine.engine, c.engine.model, c.engine.hint,
                 json.dumps(c.line)))
            return self._add_contacts(c.name, contacts, c.start_at)

    @_mapped
    def has_campaign(self, name: str) -> bool:
        return self.db.execute("SELECT 1 FROM campaigns WHERE name=?", (name,)).fetchone() \
            is not None

    @_mapped
    def campaign(self, name: str) -> Campaign:
        row = self.db.execute("SELECT * FROM campaigns WHERE name=?", (name,)).fetchone()
        if row is None:
            raise UsageError(f"no campaign {name!r} in {self.path}; load a list first, or see "
                             "`healthdial campaigns` for the campaigns there")
        return Campaign(row["name"], row["script"], row["region"],
                        CampaignSettings.from_json(row["settings"]), row["start_at"],
                        row["survey_text"], row["survey_hash"],
                        EngineSpec(row["engine"], row["model"], row["model_hint"]),
                        json.loads(row["line"]), self._control(row))

    @staticmethod
    def _control(row: sqlite3.Row) -> Control:
        cps = row["cps"] or DEFAULT_CPS
        if cps_problem(cps):  # stored by an older release that took any number
            cps = min(max(float(cps), CPS_MIN), CPS_MAX)
        return Control(row["control"], row["control_reason"], row["line_cap"] or DEFAULT_LINES,
                       cps)

    @_mapped
    def control(self, name: str) -> Control:
        """Read once a second by a running dispatcher: one indexed row."""
        row = self.db.execute("SELECT control, control_reason, line_cap, cps FROM campaigns "
                              "WHERE name=?", (name,)).fetchone()
        if row is None:
            raise UsageError(f"no campaign {name!r} in {self.path}")
        return self._control(row)

    @_mapped
    def set_control(self, name: str, state: str | None = None, reason: str | None = None,
                    line_cap: int | None = None, cps: float | None = None) -> Control:
        with self.tx():
            if state is not None:
                self.db.execute("UPDATE campaigns SET control=?, control_reason=? WHERE name=?",
                                (state, reason, name))
            if line_cap is not None:
                self.db.execute("UPDATE campaigns SET line_cap=? WHERE name=?", (line_cap, name))
            if cps is not None:
                self.db.execute("UPDATE campaigns SET cps=? WHERE name=?", (cps, name))
        return self.control(name)

    @_mapped
    def campaign_names(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM campaigns ORDER BY name")]

    @_mapped
    def update_campaign(self, name: str, settings: CampaignSettings | None = None,
                        survey_text: str | None = None, script: str | None = None,
                        engine: EngineSpec | None = None) -> None:
        with self.tx():
            if engine is not None:
                self.db.execute("UPDATE campaigns SET engine=?, model=?, model_hint=? WHERE "
                                "name=?", (engine.engine, engine.model, engine.hint, name))
            if settings is not None:
                old = self.db.execute("SELECT settings FROM campaigns WHERE name=?",
                                      (name,)).fetchone()
                self.db.execute("UPDATE campaigns SET settings=? WHERE name=?",
                                (settings.to_json(), name))
                if old is not None:  # recordings made already keep for the new keep-days
                    was = CampaignSettings.from_json(old["settings"]).keep_days
                    self.db.execute("UPDATE recordings SET keep_until = keep_until + ? WHERE "
                                    "campaign=?", ((settings.keep_days - was) * 86400, name))
            if survey_text is not None:
                self.db.execute("UPDATE campaigns SET survey_text=?, survey_hash=?, script=? "
                                "WHERE name=?", (survey_text, survey_hash(survey_text),
                                                 script, name))

    @_mapped
    def contacts_reached(self, campaign: str) -> int:
        """Attempts on which someone answered (a person or a machine): what a new survey
        would make incomparable. Drops, busy lines and no answers reach nobody."""
        row = self.db.execute(
            "SELECT COUNT(*) FROM attempts WHERE campaign=? AND outcome NOT IN "
            "('dropped', 'busy', 'no_answer', 'invalid_number')", (campaign,)).fetchone()
        return int(row[0])

    @_mapped
    def attempts_made(self, campaign: str) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM attempts WHERE campaign=?",
                                   (campaign,)).fetchone()[0])

    # contacts and blocked numbers -------------------------------------------
    @_mapped
    def known_numbers(self, campaign: str) -> set[tuple[str, str]]:
        q = "SELECT e164, ext FROM contacts WHERE campaign=?"
        return {(r[0], r[1]) for r in self.db.execute(q, (campaign,))}

    @_mapped
    def blocked_numbers(self) -> set[tuple[str, str]]:
        """Do-not-call and opted-out numbers; ext "" blocks every extension of the number."""
        return {(r[0], r[1]) for r in self.db.execute(
            "SELECT e164, ext FROM dnc UNION SELECT e164, ext FROM optouts")}

    @_mapped
    def is_blocked(self, e164: str, ext: str = "") -> bool:
        """Checked before every dial: a number added to the do-not-call list while a
        campaign runs is never dialled after."""
        return self.db.execute(
            "SELECT 1 FROM dnc WHERE e164=? AND ext IN ('', ?) UNION ALL "
            "SELECT 1 FROM optouts WHERE e164=? AND ext IN ('', ?) LIMIT 1",
            (e164, ext, e164, ext)).fetchone() is not None

    @_mapped
    def opted_out(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT e164 FROM optouts")}

    @_mapped
    def add_contacts(self, campaign: str, contacts: list[Contact], next_at: float) -> int:
        with self.tx():
            return self._add_contacts(campaign, contacts, next_at)

    def _add_contacts(self, campaign: str, contacts: list[Contact], next_at: float) -> int:
        cur = self.db.executemany(
            "INSERT OR IGNORE INTO contacts(campaign, e164, ext, name, district, language,"
            " timezone, next_at) VALUES (?,?,?,?,?,?,?,?)",
            [(campaign, c.e164, c.ext, c.name, c.district or "unknown", c.language, c.timezone,
              next_at) for c in contacts])
        return cur.rowcount

    _UNBLOCKED = ("NOT EXISTS (SELECT 1 FROM dnc d WHERE d.e164=c.e164 AND d.ext IN ('', c.ext))"
                  " AND NOT EXISTS (SELECT 1 FROM optouts o WHERE o.e164=c.e164 AND"
                  " o.ext IN ('', c.ext))")

    @_mapped
    def pending(self, campaign: str) -> list[sqlite3.Row]:
        """Contacts still to call, never a blocked number."""
        return self.db.execute(
            f"SELECT * FROM contacts c WHERE campaign=? AND status='pending' AND "
            f"{self._UNBLOCKED} ORDER BY id", (campaign,)).fetchall()

    @_mapped
    def contact(self, contact_id: int) -> sqlite3.Row:
        row: sqlite3.Row = self.db.execute("SELECT * FROM contacts WHERE id=?",
                                           (contact_id,)).fetchone()
        return row

    # the do-not-call list -----------------------------------------------------
    @_mapped
    def dnc_add(self, numbers: list[tuple[str, str]], source: str) -> int:
        with self.tx():
            cur = self.db.executemany(
                "INSERT OR IGNORE INTO dnc(e164, ext, added_at, source) VALUES (?,?,?,?)",
                [(e, x, time.time(), source) for e, x in numbers])
        return cur.rowcount

    @_mapped
    def dnc_remove(self, numbers: list[tuple[str, str]]) -> int:
        with self.tx():
            cur = self.db.executemany("DELETE FROM dnc WHERE e164=? AND ext=?", numbers)
        return cur.rowcount

    @_mapped
    def dnc_entries(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT e164, ext, added_at, source FROM dnc ORDER BY e164, ext"
                               ).fetchall()

    # results --------------------------------------------------------------
    @_mapped
    def apply(self, campaign: str, r: CallOutcome, settings: CampaignSettings) -> bool:
        """Apply one finished attempt; False if it was applied before (nothing changes)."""
        with self.tx():
            cur = self.db.execute(
                "INSERT OR IGNORE INTO attempts(id, campaign, contact_id, attempt, started,"
                " duration, outcome, risk, cpu, reason) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (r.id, campaign, r.contact_id, r.attempt, r.started, r.duration, r.outcome,
                 r.risk, r.cpu, r.reason))
            if cur.rowcount == 0:
                return False
            self.aggregator.add_call(campaign, r)
            contact = self.contact(r.contact_id)
            if r.outcome == Outcome.DROPPED:
                self._dropped(contact, r, settings)
                return True
            self._update_contact(contact, r, settings)
            self.db.executemany(
                "INSERT INTO answers(attempt_id, contact_id, campaign, question, value, how)"
                " VALUES (?,?,?,?,?,?)",
                [(r.id, r.contact_id, campaign, q, v, how) for q, v, how in r.answers])
            if r.outcome == Outcome.OPTED_OUT:
                self.db.execute("INSERT OR IGNORE INTO optouts(e164, ext, campaign, at) "
                                "VALUES (?,?,?,?)", (contact["e164"], contact["ext"], campaign,
                                                     r.started))
            if r.outcome == Outcome.COMPLETED:
                self.aggregator.add(campaign, contact["district"], r)
        return True

    def _update_contact(self, c: sqlite3.Row, r: CallOutcome, s: CampaignSettings) -> None:
        retry = r.outcome in s.retry_outcomes and r.attempt < s.max_attempts
        status = "pending" if retry else "done"
        next_at = r.started + r.duration + s.retry_after_s(r.attempt) if retry else None
        self.db.execute("UPDATE contacts SET status=?, attempts=?, drops=0, next_at=?, outcome=?,"
                        " risk=COALESCE(?, risk) WHERE id=?",
                        (status, r.attempt, next_at, r.outcome, r.risk, c["id"]))

    def _dropped(self, c: sqlite3.Row, r: CallOutcome, s: CampaignSettings) -> None:
        """Our failure, not the callee's: retried later without using up an attempt, and
        set aside with its reason after `max_drops` in a row."""
        drops = c["drops"] + 1
        if drops >= s.max_drops:
            self.db.execute("UPDATE contacts SET status='set_aside', drops=?, next_at=NULL, "
                            "reason=? WHERE id=?", (drops, r.reason, c["id"]))
            return
        self.db.execute("UPDATE contacts SET drops=?, next_at=?, reason=? WHERE id=?",
                        (drops, r.started + r.duration + s.drop_retry_minutes * 60, r.reason,
                         c["id"]))

    @_mapped
    def set_aside(self, contact_id: int, reason: str) -> None:
        """A contact that cannot be called as it is (no attempt is used), with why."""
        with self.tx():
            self.db.execute("UPDATE contacts SET status='set_aside', next_at=NULL, reason=? "
                            "WHERE id=?", (reason, contact_id))

    # reading ----------------------------------------------------------------
    @_mapped
    def contacts_of(self, campaign: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM contacts WHERE campaign=? ORDER BY id",
                               (campaign,)).fetchall()

    @_mapped
    def attempts_of(self, campaign: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM attempts WHERE campaign=? ORDER BY contact_id,"
                               " attempt, id", (campaign,)).fetchall()

    @_mapped
    def answers_of(self, campaign: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM answers WHERE campaign=? ORDER BY attempt_id,"
                               " question", (campaign,)).fetchall()

    @_mapped
    def opt_out(self, e164: str, ext: str, campaign: str, at: float) -> None:
        with self.tx():
            self.db.execute("INSERT OR IGNORE INTO optouts(e164, ext, campaign, at) "
                            "VALUES (?,?,?,?)", (e164, ext, campaign, at))

    # live figures and the console ----------------------------------------------
    @_mapped
    def write_live(self, campaign: str, data: dict[str, Any]) -> None:
        """The dispatcher's live figures, about once a second: one row per campaign."""
        with self.tx():
            self.db.execute("INSERT OR REPLACE INTO live(campaign, at, data) VALUES (?,?,?)",
                            (campaign, time.time(), json.dumps(data)))

    @_mapped
    def read_live(self, campaign: str) -> tuple[float, dict[str, Any]] | None:
        row = self.db.execute("SELECT at, data FROM live WHERE campaign=?",
                              (campaign,)).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    @_mapped
    def pipeline(self, campaign: str, now: float) -> list[sqlite3.Row]:
        """Contacts by attempts made, status, time zone and whether they are due `now`."""
        return self.db.execute(
            "SELECT attempts, status, timezone, next_at <= ? AS due, COUNT(*) AS n, "
            "MIN(next_at) AS next_at FROM contacts WHERE campaign=? GROUP BY 1, 2, 3, 4",
            (now, campaign)).fetchall()

    @_mapped
    def throughput(self, campaign: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT minute, outcome, n FROM throughput WHERE campaign=? "
                               "ORDER BY minute", (campaign,)).fetchall()

    @_mapped
    def turn_stats(self, campaign: str, since_minute: int | None = None) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT question, decision, SUM(n) AS n FROM turn_stats WHERE campaign=? AND "
            "minute >= ? GROUP BY 1, 2", (campaign, since_minute or 0)).fetchall()

    @_mapped
    def latency(self, campaign: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT question, bucket, n FROM latency WHERE campaign=? "
                               "ORDER BY bucket", (campaign,)).fetchall()

    @_mapped
    def district_reach(self, campaign: str) -> list[sqlite3.Row]:
        """Per district: contacts, and those reached (a person answered, survey or not)."""
        return self.db.execute(
            "SELECT district, COUNT(*) AS contacts, SUM(outcome IN ('completed', 'partial', "
            "'refused', 'opted_out')) AS reached FROM contacts WHERE campaign=? GROUP BY 1",
            (campaign,)).fetchall()

    # tokens, sessions, audit --------------------------------------------------------
    @_mapped
    def add_token(self, name: str, role: str, digest: str, expires: float | None) -> None:
        with self.tx():
            # a revoked token keeps its row (sessions and the audit name it) under a name
            # set aside, so its name can be given to a new token
            self.db.execute("UPDATE tokens SET name = name || ' (revoked #' || id || ')' "
                            "WHERE name=? AND revoked IS NOT NULL", (name,))
            if self.db.execute("SELECT 1 FROM tokens WHERE name=?", (name,)).fetchone():
                raise UsageError(f"a token named {name!r} exists; revoke it first, or choose "
                                 "another name")
            self.db.execute("INSERT INTO tokens(name, role, hash, created, expires) VALUES "
                            "(?,?,?,?,?)", (name, role, digest, time.time(), expires))

    @_mapped
    def token_by_hash(self, digest: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute(
            "SELECT * FROM tokens WHERE hash=? AND revoked IS NULL AND (expires IS NULL OR "
            "expires > ?)", (digest, time.time())).fetchone()
        return row

    @_mapped
    def tokens(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT id, name, role, created, expires, revoked FROM tokens "
                               "ORDER BY name").fetchall()

    @_mapped
    def revoke_token(self, name: str) -> bool:
        with self.tx():
            cur = self.db.execute("UPDATE tokens SET revoked=? WHERE name=? AND revoked IS NULL",
                                  (time.time(), name))
            self.db.execute("DELETE FROM sessions WHERE token_id IN (SELECT id FROM tokens "
                            "WHERE name=?)", (name,))
        return cur.rowcount > 0

    @_mapped
    def add_session(self, digest: str, token_id: int, csrf: str, expires: float) -> None:
        with self.tx():
            self.db.execute("DELETE FROM sessions WHERE expires < ?", (time.time(),))
            self.db.execute("INSERT INTO sessions(hash, token_id, csrf, created, expires) "
                            "VALUES (?,?,?,?,?)", (digest, token_id, csrf, time.time(), expires))

    @_mapped
    def session(self, digest: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute(
            "SELECT s.csrf, t.* FROM sessions s JOIN tokens t ON t.id=s.token_id WHERE "
            "s.hash=? AND s.expires > ? AND t.revoked IS NULL AND (t.expires IS NULL OR "
            "t.expires > ?)", (digest, time.time(), time.time())).fetchone()
        return row

    @_mapped
    def end_session(self, digest: str) -> None:
        with self.tx():
            self.db.execute("DELETE FROM sessions WHERE hash=?", (digest,))

    @_mapped
    def audit(self, who: str, action: str, target: str | None = None,
              detail: str | None = None) -> None:
        with self.tx():
            self.db.execute("INSERT INTO audit(at, who, action, target, detail) VALUES "
                            "(?,?,?,?,?)", (time.time(), who, action, target, detail))

    @_mapped
    def audit_log(self, limit: int = 200) -> list[sqlite3.Row]:
        return self.db.execute("SELECT at, who, action, target, detail FROM audit ORDER BY id "
                               "DESC LIMIT ?", (limit,)).fetchall()

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
                      decision: str | None = None) -> list[sqlite3.Row]:
        """A campaign's recorded calls (with their contact's number, for masking), those
        with a turn of `question` and/or `decision` if given."""
        where = "r.campaign=?"
        args: list[str | None] = [campaign]
        if question or decision:
            where += (" AND r.id IN (SELECT recording_id FROM recorded_turns WHERE "
                      "question = COALESCE(?, question) AND decision = COALESCE(?, decision))")
            args += [question, decision]
        return self.db.execute(
            "SELECT r.*, c.e164, c.ext, c.district FROM recordings r JOIN contacts c ON "
            f"c.id=r.contact_id WHERE {where} ORDER BY r.started", args).fetchall()

    @_mapped
    def recording(self, rid: int) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute(
            "SELECT r.*, c.e164, c.ext FROM recordings r JOIN contacts c ON c.id=r.contact_id "
            "WHERE r.id=?", (rid,)).fetchone()
        return row

    @_mapped
    def recordings_of_path(self, audio: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM recordings WHERE audio=? OR audio=?",
                               (audio, str(Path(audio).resolve()))).fetchall()

    @_mapped
    def worst_turns(self, campaign: str, question: str, limit: int = 20) -> list[sqlite3.Row]:
        """A question's recorded turns, worst first: reprompted and rejected ones, then the
        least confident."""
        return self.db.execute(
            "SELECT t.*, r.id AS recording_id, r.attempt_id FROM recorded_turns t JOIN "
            "recordings r ON r.id=t.recording_id WHERE r.campaign=? AND t.question=? ORDER BY "
            "(t.decision IN ('reprompted', 'keypad', 'unanswered', 'denied')) DESC, "
            "t.rejected DESC, t.confidence ASC, t.recording_id, t.turn LIMIT ?",
            (campaign, question, limit)).fetchall()

    @_mapped
    def expired_recordings(self, now: float) -> list[sqlite3.Row]:
        return self.db.execute("SELECT id, audio, log FROM recordings WHERE keep_until < ?",
                               (now,)).fetchall()

    @_mapped
    def recordings_of_number(self, e164: str, ext: str) -> list[sqlite3.Row]:
        """Every recording of a number, in every campaign (a bare number: every extension)."""
        return self.db.execute(
            "SELECT r.id, r.audio, r.log FROM recordings r JOIN contacts c ON c.id=r.contact_id"
            " WHERE c.e164=? AND (?='' OR c.ext=?)", (e164, ext, ext)).fetchall()

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

    @_mapped
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    @_mapped
    def counts(self, campaign: str) -> dict[str, Any]:
        """Contacts by status and by last outcome, attempts, and risk colours."""
        def grouped(sql: str) -> dict[str, int]:
            return {r[0]: r[1] for r in self.db.execute(sql, (campaign,))}

        attempts = self.db.execute("SELECT COUNT(*), MIN(started), MAX(started + duration) FROM"
                                   " attempts WHERE campaign=?", (campaign,)).fetchone()
        return {
            # a pending contact whose number is blocked is never called: shown as blocked
            "status": grouped(f"SELECT CASE WHEN status='pending' AND NOT ({self._UNBLOCKED}) "
                              "THEN 'blocked' ELSE status END, COUNT(*) FROM contacts c WHERE "
                              "campaign=? GROUP BY 1"),
            "outcomes": grouped("SELECT outcome, COUNT(*) FROM contacts WHERE campaign=? AND "
                                "outcome IS NOT NULL GROUP BY 1"),
            "attempt_outcomes": grouped("SELECT outcome, COUNT(*) FROM attempts WHERE "
                                        "campaign=? GROUP BY 1"),
            "risk": grouped("SELECT risk, COUNT(*) FROM contacts WHERE campaign=? AND "
                            "outcome='completed' GROUP BY 1"),
            "attempts": attempts[0], "first_start": attempts[1], "last_end": attempts[2]}

    @_mapped
    def iter_respondents(self, campaign: str) -> Iterator[dict[str, Any]]:
        """Each contact with its latest answers, for reports (two queries in all)."""
        answers: dict[int, dict[str, Any]] = {}
        for r in self.db.execute("SELECT a.contact_id, a.question, a.value FROM answers a JOIN"
                                 " attempts t ON t.id=a.attempt_id WHERE a.campaign=? ORDER BY"
                                 " t.attempt", (campaign,)):
            answers.setdefault(r["contact_id"], {})[r["question"]] = r["value"]
        for c in self.db.execute(f"SELECT c.*, CASE WHEN status='pending' AND NOT "
                                 f"({self._UNBLOCKED}) THEN 'blocked' ELSE status END AS shown"
                                 " FROM contacts c WHERE campaign=? ORDER BY id",
                                 (campaign,)).fetchall():
            yield {**dict(c), "answers": answers.get(c["id"], {})}

    @_mapped
    def dump(self, campaign: str) -> str:
        """A canonical text of all results, for comparing runs."""
        rows = self.db.execute("SELECT c.e164, c.ext, c.status, c.outcome, c.attempts, c.risk "
                               "FROM contacts c WHERE campaign=? ORDER BY e164, ext",
                               (campaign,)).fetchall()
        ans = self.db.execute("SELECT c.e164, a.question, a.value, a.how, t.attempt FROM answers"
                              " a JOIN contacts c ON c.id=a.contact_id JOIN attempts t ON t.id="
                              "a.attempt_id WHERE a.campaign=? ORDER BY 1,5,2",
                              (campaign,)).fetchall()
        return json.dumps([[list(r) for r in x]
                           for x in (rows, ans, self.aggregator.rows(campaign))])


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        if self.db.in_transaction:  # nested: the outer transaction commits
            self._outer = False
            return self.db
        self._outer = True
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: object, *_: object) -> None:
        if not self._outer:
            return
        if exc_type is None:
            self.db.execute("COMMIT")
        elif self.db.in_transaction:  # SQLite rolls back by itself on a full disk
            self.db.execute("ROLLBACK")
