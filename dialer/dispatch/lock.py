"""One campaign, one dispatcher: a lock the live `run` holds and its death releases.

An flock on a file beside the store. The kernel releases it when the process
dies, however it dies, so a `run` started right after a kill -9 proceeds at
once, while a second `run` beside a live one is refused with the first one's
process id. The file is never removed (removing a locked file races).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path

from survey_scripts.errors import CampaignBusy, StoreError


def lock_path(db: str, campaign: str) -> Path:
    """Beside the store's file itself: every path to it (a symlink, ./s.db) is one lock."""
    return Path(f"{os.path.realpath(db)}.{campaign}.lock")


class CampaignLock:
    def __init__(self, db: str, campaign: str) -> None:
        self.path = lock_path(db, campaign)
        self.campaign = campaign
        self._fd: int | None = None

    def acquire(self) -> CampaignLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise StoreError(f"{self.path}: cannot create the campaign's lock file "
                             f"({e.strerror}); the store's folder must be writable") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").split()
            os.close(fd)
            pid = holder[0] if holder else "another process"
            raise CampaignBusy(
                f"campaign {self.campaign!r} is being run by process {pid}: one campaign, one "
                f"dispatcher. Wait for it to finish, or stop it (kill {pid}) and run again; "
                "`healthdial status` shows its progress meanwhile") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {time.time():.0f}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
            self._fd = None

    def __enter__(self) -> CampaignLock:
        return self.acquire()

    def __exit__(self, *_: object) -> None:
        self.release()


def is_running(db: str, campaign: str) -> bool:
    """Whether a live dispatcher holds the campaign (for the console and status)."""
    path = lock_path(db, campaign)
    if not path.exists():
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock taken here
    return False
