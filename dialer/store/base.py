"""The store's connection and what every table group shares: error mapping, the
owner-only files, the check that a file is a healthdial store, transactions."""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

from dialer.policy.settings import CampaignSettings
from dialer.store.schema import migrate
from dialer.store.tallies import Tallies
from dialer.wire import EngineSpec, LineConfig
from survey_scripts.errors import StoreError

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


class ControlState(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"  # for good


@dataclass(frozen=True)
class Control:
    """How the operator wants a campaign run; kept in the store, so it survives restarts
    and reaches every dispatcher and worker the same way, embedded or over RQ."""

    state: ControlState = ControlState.ACTIVE
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
    line: LineConfig  # the line back-end and its own settings (simulated: its seed)
    control: Control = field(default_factory=lambda: Control())

    @property
    def seed(self) -> int:
        return self.line.seed


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


class StoreBase:
    """The connection: opened, checked, migrated; one IMMEDIATE transaction at a time."""

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
        self.tallies = Tallies(self.db)

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

    @_mapped
    def secret(self, name: str) -> str:
        """A random value kept in this store, made on first use (the key of pseudonymous
        contact ids, a package's id): exports stay stable, and a store's copy alone can
        tie them to numbers."""
        with self.tx():
            self.db.execute("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT)")
            self.db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)",
                            (f"secret:{name}", secrets.token_hex(32)))
            row = self.db.execute("SELECT value FROM meta WHERE key=?",
                                  (f"secret:{name}",)).fetchone()
        return str(row[0])

    @_mapped
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])


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
