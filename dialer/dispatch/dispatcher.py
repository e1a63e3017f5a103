"""The dispatcher: hands calls to lines within the line budget, the calls-per-second cap and
each callee's calling hours, and applies every result to the store as it arrives.

On the fast clock, time is simulated: each line is free again at the simulated end of
its call, and a call starts at the earliest moment a line, the cap and the callee's
hours all allow. Nothing waits; every call is still synthesized and recognized.

Every line taken is given back once its call reports, whatever the report (a
result applied before, from an earlier run, included), so the lines in use plus
the lines free always make the budget. If the store stops taking writes, no new
call starts; the calls in flight are collected and kept (dialer/spool.py) and
the run stops with a StoreError.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import os
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from dialer.dispatch import spool
from dialer.dispatch.backoff import Backoff
from dialer.dispatch.breaker import Breaker
from dialer.lines.backend import PlannedCall
from dialer.lines.registry import backend
from dialer.policy.hours import next_open
from dialer.recordings import files as recordings
from dialer.store import Campaign, Control, ControlState, Store
from dialer.store.rows import ContactRow, LiveFigures
from dialer.wire import UNAUTHORIZED, Batch, CallJob, CallOutcome
from survey_scripts.errors import StoreError
from survey_scripts.vocabulary import Outcome

log = logging.getLogger(__name__)
DRAIN_S = 600.0  # after a store failure, how long to wait for the calls in flight


class Pool(Protocol):
    lost_batches: int  # batches lost before a worker took them (RQ)

    def submit(self, batch: Batch) -> None: ...
    def result(self, timeout: float) -> CallOutcome | None: ...
    def alive(self) -> int: ...
    def set_paused(self, paused: bool) -> None: ...


TICK_S = 0.5  # the operator's controls are read this often (they act within 2 s)


@dataclass(frozen=True)
class RunParams:
    """How a run dials; defaults suit one 2-core machine."""

    lines: int = 100
    cps: float = 20.0  # calls started per (simulated) second, at most
    processes: int = os.cpu_count() or 1
    batch: int = 4  # calls per job handed to a worker
    realtime: bool = False


@dataclass
class RunStats:
    attempts: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    blocked: int = 0  # contacts not dialled: put on the do-not-call list while queued
    cpu_s: float = 0.0
    wall_s: float = 0.0
    sim_start: float = 0.0
    sim_end: float = 0.0
    busy: int = 0
    # realtime: the latest turns' end-of-answer to next-prompt latencies, for the live view
    latency_s: deque[float] = field(default_factory=lambda: deque(maxlen=5000))
    started_at: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))  # wall
    completed_at: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))
    results_at: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))
    stopped: bool = False  # the operator stopped the campaign

    @property
    def calls_per_s(self) -> float:
        return self.outcomes["completed"] / self.wall_s if self.wall_s else 0.0

    @property
    def latency_p99_ms(self) -> float | None:
        if not self.latency_s:
            return None
        return float(np.percentile(np.asarray(self.latency_s), 99)) * 1000


class Dispatcher:
    def __init__(self, store: Store, campaign: Campaign, params: RunParams, pool: Pool,
                 on_result: Callable[[RunStats], None] | None = None) -> None:
        self.store, self.c, self.p, self.pool = store, campaign, params, pool
        self.backend = backend(campaign.line.kind)  # plans each call's LineSpec
        self.on_result = on_result or (lambda _s: None)
        self.stats = RunStats()
        self.contacts = {r.id: r for r in store.pending(campaign.name)}
        start = time.time() if params.realtime else campaign.start_at
        self.due = [(max(r.next_at or start, start), cid) for cid, r in self.contacts.items()]
        heapq.heapify(self.due)
        self.cap, self.cps = params.lines, params.cps
        self.free = [start] * params.lines
        self._owed = 0  # lines to take out of service as they come free (cap lowered)
        self.inflight: dict[str, float] = {}
        self.last_start = start - 1.0
        self.control = campaign.control
        self._ticked = 0.0
        self.breaker, self.backoff = Breaker(), Backoff()
        self.stats.sim_start = self.stats.sim_end = start
        self._unapplied: list[CallOutcome] = []  # a result the store failed to take
        self._closed_until = 0.0  # realtime: "outside calling hours" said up to this time
        assert campaign.survey_hash and campaign.survey_text is not None

    async def run(self) -> RunStats:
        t0 = time.monotonic()
        self.pool.set_paused(self.control.state == ControlState.PAUSED)
        try:
            while self.due or self.inflight:
                if self.control.state == ControlState.STOPPED and not self.inflight:
                    self.stats.stopped = True
                    break
                if self.control.state == ControlState.ACTIVE:
                    await self._dispatch()
                if not self.inflight:
                    if not self.free and self.control.state == ControlState.ACTIVE:
                        raise RuntimeError("no line free and none in flight: lines leaked")
                    if self.p.realtime or self.control.state != ControlState.ACTIVE:
                        await asyncio.sleep(TICK_S if self.control.state != ControlState.ACTIVE
                                            else self._idle_s())
                    await asyncio.to_thread(self._tick, True)
                    continue
                # waiting for a result and writing it to SQLite both block: off the loop
                if not await asyncio.to_thread(self._receive):
                    if self.pool.alive() == 0:
                        raise RuntimeError("all worker processes have stopped")
                    continue
                self.stats.wall_s = time.monotonic() - t0
                self.on_result(self.stats)
        except StoreError as e:
            await asyncio.to_thread(self._keep_in_flight, e)
        self.stats.wall_s = time.monotonic() - t0
        return self.stats

    def _job(self, cid: int, start: float) -> CallJob:
        row = self.contacts[cid]
        attempt = row.attempts + 1
        drops = (f"d{row.drops}" if row.drops else "") + \
            (f"r{row.refusals}" if row.refusals else "")  # each call its own id
        planned = PlannedCall(self.c.line, cid, attempt, row.ext, row.timezone,
                              self.c.start_at, self.c.settings)
        return CallJob(id=f"{self.c.name}:{cid}:{attempt}{drops}", contact_id=cid,
                       attempt=attempt, number=row.e164, ext=row.ext, started=start,
                       line=self.backend.plan(planned))

    def _batch(self, calls: list[CallJob]) -> Batch:
        assert self.c.survey_hash is not None
        return Batch(self.c.name, self.c.survey_hash, self.c.survey_text, self.c.engine,
                     self.p.realtime, tuple(calls), self.c.settings.record, self.c.line.kind)

    async def _dispatch(self) -> None:
        batch: list[CallJob] = []
        while self.free and self.due:
            if self.p.realtime:
                cid_start = await self._next_live()
                if cid_start is None:
                    break
                cid, start = cid_start
            else:
                eligible, cid = heapq.heappop(self.due)
                if self._blocked(cid):
                    continue
                wanted = max(self.free[0], eligible, self.last_start + 1 / self.cps)
                opening = self._opening(cid, wanted)
                if opening is None:
                    continue
                if opening > wanted:  # its hours are closed: it waits, the others go first
                    heapq.heappush(self.due, (opening, cid))
                    continue
                start = opening
                heapq.heappop(self.free)
            self.last_start = start
            self.stats.started_at.append(time.time())
            job = self._job(cid, start)
            self.inflight[job.id] = start
            batch.append(job)
            if len(batch) >= self.p.batch:
                self.pool.submit(self._batch(batch))
                batch = []
        if batch:
            self.pool.submit(self._batch(batch))
        self.stats.busy = len(self.inflight)

    def _blocked(self, cid: int) -> bool:
        """A number put on the do-not-call list (or opted out elsewhere) after this run
        started is never dialled: checked at the moment of dialling."""
        row = self.contacts[cid]
        if self.store.is_blocked(row.e164, row.ext):
            self.stats.blocked += 1
            return True
        return False

    def _opening(self, cid: int, t: float) -> float | None:
        """When the contact may be called, from `t`; None (and set aside, with why) for a
        number whose possible zones share no hour of the calling window."""
        row = self.contacts[cid]
        start = next_open(t, row.timezone, self.c.settings)
        if start is None:
            self.store.set_aside(cid, f"its possible time zones ({row.timezone}) share no "
                                 f"hour of the calling window {self.c.settings.hours_start}-"
                                 f"{self.c.settings.hours_end}; give it a timezone column")
        return start

    def _say_closed(self, start: float) -> None:
        """Realtime: tell the operator when nothing can be called before calling hours."""
        if self.inflight or start <= self._closed_until:
            return
        soonest = self.due[0][0] if self.due else start
        if soonest <= time.time():
            return
        self._closed_until = soonest
        log.warning("campaign %s: outside calling hours; the next call is due at %s (local "
                    "time of this machine)", self.c.name,
                    time.strftime("%Y-%m-%d %H:%M", time.localtime(soonest)))

    async def _next_live(self) -> tuple[int, float] | None:
        """Realtime: the next contact that may be called now, paced by the cap. A contact
        due later (a retry, closed hours) waits in the heap while results keep arriving."""
        while self.due and not self.backoff.holding():
            eligible, cid = self.due[0]
            if eligible > time.time():
                return None
            heapq.heappop(self.due)
            if self._blocked(cid):
                continue
            start = self._opening(cid, eligible)
            if start is None:
                continue
            if start > time.time():
                heapq.heappush(self.due, (start, cid))
                self._say_closed(start)
                continue
            gate = self.last_start + 1 / self.cps
            if gate > time.time():
                await asyncio.sleep(gate - time.time())
            heapq.heappop(self.free)
            return cid, time.time()
        return None

    def _idle_s(self) -> float:
        """Realtime, nothing in flight: how long until the next contact is due (at most 1 s)."""
        if not self.due:
            return 0.0
        return max(0.0, min(1.0, max(self.due[0][0], self.backoff.until) - time.time()))

    def _receive(self) -> bool:
        self._tick()
        r = self.pool.result(TICK_S)
        if r is None:
            return False
        self._apply(r)
        return True

    def _tick(self, force: bool = False) -> None:
        """Every TICK_S: the operator's controls in, the live figures out (in a thread)."""
        now = time.monotonic()
        if not force and now - self._ticked < TICK_S:
            return
        self._ticked = now
        self._take(self.store.control(self.c.name))
        self.store.write_live(self.c.name, self.live())

    def _take(self, control: Control) -> None:
        """A change of the stored control since it was last read (the run starts from its
        params, which the runner took from the same control)."""
        if control.state != self.control.state:
            log.info("campaign %s: %s%s", self.c.name, control.state,
                     f" ({control.reason})" if control.reason else "")
        if control.state != self.control.state or control.state != ControlState.ACTIVE:
            # again while paused: a worker that missed it (Redis away) learns it now
            self.pool.set_paused(control.state != ControlState.ACTIVE)
        if control.line_cap != self.control.line_cap:
            self._recap(control.line_cap)
        if control.cps != self.control.cps:
            self.cps = control.cps
        self.control = control

    def _recap(self, cap: int) -> None:
        """More lines are free at once; fewer are taken out of service as they come free."""
        now = max(self.last_start, self.free[0] if self.free else self.last_start)
        for _ in range(cap - self.cap):
            heapq.heappush(self.free, now if not self.p.realtime else time.time())
        for _ in range(self.cap - cap):
            if self.free:
                heapq.heappop(self.free)
            else:
                self._owed += 1
        self.cap = cap

    def live(self) -> LiveFigures:
        """The figures the console shows, as of now."""
        wall = time.time()
        s = self.stats
        return LiveFigures(
            state=self.control.state.value, reason=self.control.reason,
            clock="realtime" if self.p.realtime else "fast",
            now=wall if self.p.realtime else self.last_start,
            lines_busy=len(self.inflight), line_cap=self.cap, cps=self.cps,
            attempts=s.attempts, outcomes=dict(s.outcomes), duplicates=s.duplicates,
            started_last_min=sum(1 for t in s.started_at if t > wall - 60),
            completed_last_min=sum(1 for t in s.completed_at if t > wall - 60),
            results_last_min=sum(1 for t in s.results_at if t > wall - 60),
            completed_per_s=s.calls_per_s, wall_s=s.wall_s,
            lost_batches=self.pool.lost_batches, pid=os.getpid())

    def _breaker(self, r: CallOutcome) -> None:
        reason = self.breaker.trips(r.outcome == Outcome.DROPPED, r.reason)
        if r.end_cause == UNAUTHORIZED:  # every call would fail alike: pause at once
            reason = f"{r.reason}; then `healthdial resume {self.c.name}`"
        if reason and self.control.state == ControlState.ACTIVE:
            log.warning("campaign %s paused: %s", self.c.name, reason)
            self._take(self.store.set_control(self.c.name, ControlState.PAUSED, reason))
            self.store.audit("circuit breaker", "pause", self.c.name, reason)

    def _apply(self, r: CallOutcome) -> None:
        start = self.inflight.pop(r.id, None)
        end = r.started + r.duration
        if start is not None:  # the line is free again, whatever the store makes of it
            if self._owed:
                self._owed -= 1
            else:
                heapq.heappush(self.free, end)
        self.stats.busy = len(self.inflight)
        try:
            fresh = self.store.apply(self.c.name, r, self.c.settings)
        except StoreError:
            self._unapplied.append(r)
            raise
        if not fresh:
            self.stats.duplicates += 1
            return
        self.stats.attempts += 1
        self.stats.outcomes[r.outcome] += 1
        self.stats.results_at.append(time.time())
        if r.outcome == Outcome.COMPLETED:
            self.stats.completed_at.append(time.time())
        self._breaker(r)
        self.backoff.note(r, self.c.name)
        self.stats.cpu_s += r.cpu
        self.stats.latency_s.extend(r.latency_s)
        self.stats.sim_end = max(self.stats.sim_end, end)
        row = self.store.contact(r.contact_id)
        assert row is not None, "the store just applied a result for it"
        self.contacts[r.contact_id] = row
        self._keep_recording(r, row)
        if row.status == "pending" and row.next_at is not None:
            heapq.heappush(self.due, (row.next_at, r.contact_id))

    def _keep_recording(self, r: CallOutcome, contact: ContactRow) -> None:
        """The call's recording beside the store; an opt-out purges the number's recordings
        (this one too). A recording that cannot be written costs no result."""
        try:
            recordings.save(self.store, self.c.name, r, self.c.settings)
            if r.outcome == Outcome.OPTED_OUT:
                recordings.purge_number(self.store, contact.e164, contact.ext)
        except OSError as e:
            log.error("call %s: its recording could not be written (%s)", r.id, e)

    def _keep_in_flight(self, error: StoreError) -> None:
        """The store failed: no new call; the results of the calls in flight are collected
        and kept for the next run, then the error goes up with where they are."""
        kept = list(self._unapplied)
        deadline = time.monotonic() + DRAIN_S
        while self.inflight and time.monotonic() < deadline and self.pool.alive():
            r = self.pool.result(1.0)
            if r is not None:
                self.inflight.pop(r.id, None)
                kept.append(r)
        place = spool.save(self.store.path, kept) if kept else None
        lost = f"; {len(self.inflight)} calls still in flight were not collected and will " \
               "be called again" if self.inflight else ""
        where = f"{len(kept)} results kept in {place} and applied when `run` starts again" \
            if place else "no results were waiting" if not kept else \
            f"{len(kept)} results could not be kept anywhere"
        raise StoreError(f"{error}. Dialling stopped: {where}{lost}") from error
