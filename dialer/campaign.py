"""Campaign operations behind the commands: load a list, run, with a live progress bar."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from dialer.contacts import Rejected, parse_list, read_dnc
from dialer.dispatcher import Dispatcher, RunParams, RunStats
from dialer.settings import CampaignSettings
from dialer.store import Store
from survey_scripts.loader import load_survey
from workers.embedded import EmbeddedPool
from workers.rqjobs import calls_queue
from workers.rqpool import RQPool

log = logging.getLogger(__name__)


@dataclass
class LoadReport:
    loaded: int = 0
    duplicates: int = 0
    dnc: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"loaded": self.loaded, "duplicates": self.duplicates, "do_not_call": self.dnc,
                "rejected": [{"row": r.row, "reason": r.reason} for r in self.rejected]}


def load(store: Store, csv_path: Path, campaign: str, script: str, region: str,
         dnc_path: Path | None, seed: int = 1, start_at: float | None = None,
         settings: CampaignSettings | None = None) -> LoadReport:
    """Add a call list to a campaign (created on first load); good rows load, bad are listed."""
    load_survey(script)  # a broken survey is reported before anything is stored
    c = store.ensure_campaign(campaign, str(Path(script).resolve()), region,
                              settings or CampaignSettings(), seed,
                              start_at if start_at is not None else time.time())
    blocked = read_dnc(dnc_path, region) | store.opted_out()
    parsed = parse_list(csv_path, region, blocked, store.known_numbers(campaign))
    added = store.add_contacts(campaign, parsed.contacts, c.start_at)
    return LoadReport(added, parsed.duplicates + len(parsed.contacts) - added, parsed.dnc,
                      parsed.rejected)


def run(store: Store, campaign: str, params: RunParams, progress: bool = True,
        redis_url: str | None = None) -> RunStats:
    """Call every pending contact to the end; resumable at any moment.

    Embedded by default (worker processes here); with a Redis URL the calls go to RQ
    workers on any machine (`healthdial worker`) and this process keeps the line budget.
    """
    c = store.campaign(campaign)
    pool: EmbeddedPool | RQPool
    if redis_url:
        pool = RQPool(redis_url, campaign, params.realtime)
        log.info("campaign %s: dispatching to RQ queue %s", campaign, calls_queue(campaign))
    else:
        pool = EmbeddedPool(params.processes, params.realtime)
    try:
        total = len(store.pending(campaign))
        with _progress(progress, params.realtime) as bar:
            task = bar.add_task("calls", total=None, busy=0, cps=0.0, done=0, p99="-")

            def shown(s: RunStats) -> None:
                p99 = s.latency_p99_ms
                bar.update(task, completed=s.attempts, busy=s.busy, cps=s.calls_per_s,
                           done=s.outcomes["completed"], p99="-" if p99 is None else f"{p99:.0f}")

            log.info("campaign %s: %d contacts to call on %d lines, %d worker processes",
                     campaign, total, params.lines, params.processes)
            stats = asyncio.run(Dispatcher(store, c, params, pool, shown).run())
    finally:
        pool.close()
    return stats


def _progress(enabled: bool, realtime: bool = False) -> Progress:
    columns = [
        TextColumn("[bold]calls"), BarColumn(), TextColumn("{task.completed} attempts"),
        TextColumn("completed {task.fields[done]}"), TextColumn("lines busy {task.fields[busy]}"),
        TextColumn("{task.fields[cps]:.2f} completed/s")]
    if realtime:  # how long callees wait for the robot after they finish speaking
        columns.append(TextColumn("turn p99 {task.fields[p99]} ms"))
    return Progress(*columns, TimeElapsedColumn(), disable=not enabled, transient=False)
