"""What several test modules share: call lists, loading, a fake worker pool, the CLI."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from dialer.campaign.admin import LoadReport, LoadRequest, load
from dialer.store import Store
from dialer.wire import Batch, CallJob, CallOutcome
from tests.conftest import EN, ROOT

START = 1581296400.0  # 2020-02-10 01:00 UTC: night in Beijing, evening in New York


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",", bom: bool = False) -> None:
    with path.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)


def load_list(store: Store, listing: Path, name: str = "c", region: str = "CN",
              script: Path | str = EN, **kw: Any) -> LoadReport:
    return load(store, LoadRequest(listing, name, str(script), region, **kw))


class FakePool:
    """Answers every call at once: busy on odd first attempts, then completed. With
    `repeat`, every result is delivered twice (a worker retried)."""

    lost_batches = 0  # nothing is lost between the dispatcher and these workers

    def __init__(self, busy_odd: bool = True, repeat: bool = False) -> None:
        self.busy_odd, self.repeat = busy_odd, repeat
        self.jobs: list[CallJob] = []
        self.ready: list[CallOutcome] = []

    def outcome(self, job: CallJob) -> CallOutcome:
        busy = self.busy_odd and job.contact_id % 2 and job.attempt == 1
        outcome = "busy" if busy else "completed"
        answers = (("consent", "yes", "speech"), ("fever", "no", "speech"))
        return CallOutcome(id=job.id, contact_id=job.contact_id, attempt=job.attempt,
                           started=job.started, duration=120.0, outcome=outcome,
                           risk="green", answers=answers if outcome == "completed" else ())

    def submit(self, batch: Batch) -> None:
        for job in batch.calls:
            self.jobs.append(job)
            self.ready += [self.outcome(job)] * (2 if self.repeat else 1)

    def result(self, timeout: float) -> CallOutcome | None:
        return self.ready.pop(0) if self.ready else None

    def alive(self) -> int:
        return 1

    def set_paused(self, paused: bool) -> None:
        self.paused = paused


def campaign_store(tmp_path: Path, zones: list[str], name: str = "c") -> Store:
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone", "timezone"]] + [[f"+1202555{i:04d}", z]
                                                  for i, z in enumerate(zones)])
    store = Store(tmp_path / "s.db")
    load_list(store, listing, name, "US", start_at=START)
    return store


# `healthdial` as a terminal starts it: Ctrl-C (SIGINT) not ignored. A test run started in
# the background of a script (a CI runner, `make test &`) inherits SIGINT ignored, and
# Python keeps an ignored SIGINT ignored: a test's Ctrl-C would then never arrive.
HEALTHDIAL = [sys.executable, "-c", "import runpy, signal, sys; "
              "signal.signal(signal.SIGINT, signal.default_int_handler); "
              "sys.argv[0] = 'healthdial'; runpy.run_module('dialer.cli', run_name='__main__')"]


def healthdial(*args: str, db: Path, log: Path | None = None,
               env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`healthdial ARGS` in its own process group, stderr (and stdout) to `log`."""
    full = {**os.environ, "HEALTHDIAL_DB": str(db), "PYTHONPATH": str(ROOT), **(env or {})}
    with (log or db.parent / "stderr.log").open("ab") as out:
        return subprocess.Popen([*HEALTHDIAL, *args], env=full, cwd=ROOT,
                                stdout=subprocess.DEVNULL if log is None else out, stderr=out,
                                start_new_session=True)
