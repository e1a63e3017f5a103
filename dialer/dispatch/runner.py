"""The campaign runner: the assembler that knows both the dialer and the workers.

`run` takes the campaign's lock (one dispatcher per campaign), checks that the
store takes writes and that everything a call needs is there (the frozen
survey, the engine's model, every word of its grammars) before the first call,
applies results kept from a run that lost its store, then dispatches to the
embedded worker processes or, with a Redis URL, to RQ workers anywhere.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from dialer.campaign.admin import check_engine, check_speakable, frozen_survey
from dialer.dispatch import spool
from dialer.dispatch.dispatcher import Dispatcher, RunParams, RunStats
from dialer.dispatch.lock import CampaignLock
from dialer.lines.registry import backend
from dialer.recordings import files as recordings
from dialer.store import Campaign, ControlState, Store
from survey_scripts.errors import UsageError
from workers.embedded import EmbeddedPool
from workers.rqjobs import calls_queue
from workers.rqpool import RQPool
from workers.settings import QueueSettings

log = logging.getLogger(__name__)


def preflight(store: Store, c: Campaign, local_model: bool, realtime: bool = True) -> None:
    """Everything a call needs, checked before the first one: our own errors must never
    use up a contact's attempts."""
    store.check_writable()
    if c.line.kind != "simulated" and not realtime:
        raise UsageError(f"campaign {c.name!r} calls real {c.line.kind} lines, which run on "
                         "the wall clock: run it with --clock realtime")
    if local_model:  # the lines are dialled from this machine (else each worker checks)
        found = backend(c.line.kind).check()
        if found:
            log.info("campaign %s: %s", c.name, found)
    survey = frozen_survey(c)
    check_speakable(survey)
    check_engine(survey, c.engine, required=local_model)
    log.info("campaign %s: survey %s (%s, frozen %s), recognition engine %s%s", c.name,
             survey.name, survey.language.code, (c.survey_hash or "")[:12], c.engine.engine,
             f" with {c.engine.model}" if c.engine.model else "")


def apply_kept(store: Store, c: Campaign) -> int:
    """Results a run could not write when its store failed, applied now (idempotently)."""
    applied = 0
    for place, outcomes in spool.pending(store.path):
        mine = [o for o in outcomes if o.id.startswith(f"{c.name}:")]
        for o in mine:
            applied += store.apply(c.name, o, c.settings)
        if len(mine) == len(outcomes):
            spool.done(place)
        log.info("applied %d kept results from %s", len(mine), place)
    return applied


def run(store: Store, campaign: str, params: RunParams, progress: bool = True,
        redis_url: str | None = None, given: tuple[int | None, float | None] = (None, None)
        ) -> RunStats:
    """Call every pending contact to the end; resumable at any moment. The line cap and
    calls per second come from the campaign's control; `given` (from `run --lines/--cps`)
    wins and is stored."""
    c = store.campaign(campaign)
    if c.control.state == ControlState.STOPPED:
        why = c.control.reason or "by an operator"
        raise UsageError(f"campaign {campaign!r} was stopped ({why}); a stopped campaign is "
                         "not run again")
    with CampaignLock(store.path, campaign):
        lines, cps = given
        if lines is not None or cps is not None:
            store.set_control(campaign, line_cap=lines, cps=cps)
        c = store.campaign(campaign)
        params = replace(params, lines=c.control.line_cap, cps=c.control.cps)
        queue = QueueSettings.from_url(redis_url) if redis_url else None
        preflight(store, c, local_model=queue is None, realtime=params.realtime)
        apply_kept(store, c)
        recordings.purge_expired(store)
        pool: EmbeddedPool | RQPool
        if queue is not None:
            pool = RQPool(queue, campaign)
            log.info("campaign %s: dispatching to RQ queue %s on %s", campaign,
                     calls_queue(campaign), queue.shown)
        else:
            pool = EmbeddedPool(params.processes, params.realtime)
        interrupted = False
        try:
            return _dispatch(store, c, params, pool, progress)
        except KeyboardInterrupt:
            interrupted = True
            raise
        finally:
            pool.close(wait_s=0.0 if interrupted else 10.0)


def _dispatch(store: Store, c: Campaign, params: RunParams, pool: EmbeddedPool | RQPool,
              progress: bool) -> RunStats:
    total = len(store.pending(c.name))
    with _progress(progress, params.realtime) as bar:
        task = bar.add_task("calls", total=None, busy=0, cps=0.0, done=0, p99="-")

        def shown(s: RunStats) -> None:
            p99 = s.latency_p99_ms
            bar.update(task, completed=s.attempts, busy=s.busy, cps=s.calls_per_s,
                       done=s.outcomes["completed"], p99="-" if p99 is None else f"{p99:.0f}")

        log.info("campaign %s: %d contacts to call on %d lines, %d worker processes",
                 c.name, total, params.lines, params.processes)
        dispatcher = Dispatcher(store, c, params, pool, shown)
        return asyncio.run(dispatcher.run())


def _progress(enabled: bool, realtime: bool = False) -> Progress:
    columns = [
        TextColumn("[bold]calls"), BarColumn(), TextColumn("{task.completed} attempts"),
        TextColumn("completed {task.fields[done]}"), TextColumn("lines busy {task.fields[busy]}"),
        TextColumn("{task.fields[cps]:.2f} completed/s")]
    if realtime:  # how long callees wait for the robot after they finish speaking
        columns.append(TextColumn("turn p99 {task.fields[p99]} ms"))
    return Progress(*columns, TimeElapsedColumn(), disable=not enabled, transient=False)
