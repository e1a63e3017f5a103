"""The dispatcher: hands calls to lines within the line budget, the calls-per-second cap and
each callee's calling hours, and applies every result to the store as it arrives.

On the fast clock, time is simulated: each line is free again at the simulated end of
its call, and a call starts at the earliest moment a line, the cap and the callee's
hours all allow. Nothing waits; every call is still synthesized and recognized.
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
from typing import Any, Protocol

import numpy as np

from dialer.hours import local, next_open
from dialer.store import CallOutcome, Campaign, Store
from workers.jobs import CallJob

log = logging.getLogger(__name__)


class Pool(Protocol):
    def submit(self, batch: list[dict[str, Any]]) -> None: ...
    def result(self, timeout: float) -> dict[str, Any] | None: ...
    def alive(self) -> int: ...


@dataclass(frozen=True)
class RunParams:
    """How a run dials; defaults suit one 2-core machine."""

    lines: int = 100
    cps: float = 20.0  # calls started per (simulated) second, at most
    processes: int = os.cpu_count() or 1
    batch: int = 4  # calls per job handed to a worker
    realtime: bool = False
    engine: str = "pocketsphinx"
    vosk_model: str | None = None


@dataclass
class RunStats:
    attempts: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    sim_start: float = 0.0
    sim_end: float = 0.0
    busy: int = 0
    # realtime: the latest turns' end-of-answer to next-prompt latencies, for the live view
    latency_s: deque[float] = field(default_factory=lambda: deque(maxlen=5000))

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
        self.on_result = on_result or (lambda _s: None)
        self.stats = RunStats()
        self.contacts = {r["id"]: r for r in store.pending(campaign.name)}
        start = time.time() if params.realtime else campaign.start_at
        self.due = [(max(r["next_at"] or start, start), cid) for cid, r in self.contacts.items()]
        heapq.heapify(self.due)
        self.free = [start] * params.lines
        self.inflight: dict[str, float] = {}
        self.last_start = start - 1.0
        self.stats.sim_start = self.stats.sim_end = start

    async def run(self) -> RunStats:
        t0 = time.monotonic()
        while self.due or self.inflight:
            await self._dispatch()
            if not self.inflight:
                if self.p.realtime:  # the next contact is due later: wait, do not spin
                    await asyncio.sleep(self._idle_s())
                continue
            # waiting for a result and writing it to SQLite both block: off the loop
            if not await asyncio.to_thread(self._receive):
                if self.pool.alive() == 0:
                    raise RuntimeError("all worker processes have stopped")
                continue
            self.stats.wall_s = time.monotonic() - t0
            self.on_result(self.stats)
        self.stats.wall_s = time.monotonic() - t0
        return self.stats

    def _job(self, cid: int, start: float) -> CallJob:
        row = self.contacts[cid]
        attempt = row["attempts"] + 1
        return CallJob(id=f"{self.c.name}:{cid}:{attempt}", contact_id=cid, attempt=attempt,
                       started=start, local_hour=self._nominal_hour(row["timezone"], attempt),
                       seed=self.c.seed, script=self.c.script, engine=self.p.engine,
                       vosk_model=self.p.vosk_model)

    def _nominal_hour(self, tz: str, attempt: int) -> int:
        """The hour an attempt was planned for: answer rates depend on it, not on line luck."""
        s = self.c.settings
        planned = self.c.start_at + sum(s.retry_after_s(k) for k in range(1, attempt))
        return local(next_open(planned, tz, s), tz).hour

    async def _dispatch(self) -> None:
        batch: list[dict[str, Any]] = []
        while self.free and self.due:
            if self.p.realtime:
                cid_start = await self._next_live()
                if cid_start is None:
                    break
                cid, start = cid_start
            else:
                free_at = heapq.heappop(self.free)
                eligible, cid = heapq.heappop(self.due)
                wanted = max(free_at, eligible, self.last_start + 1 / self.p.cps)
                start = next_open(wanted, self.contacts[cid]["timezone"], self.c.settings)
            self.last_start = start
            job = self._job(cid, start)
            self.inflight[job.id] = start
            batch.append(job.to_dict())
            if len(batch) >= self.p.batch:
                self.pool.submit(batch)
                batch = []
        if batch:
            self.pool.submit(batch)
        self.stats.busy = len(self.inflight)

    async def _next_live(self) -> tuple[int, float] | None:
        """Realtime: the next contact that may be called now, paced by the cap. A contact
        due later (a retry, closed hours) waits in the heap while results keep arriving."""
        while self.due:
            eligible, cid = self.due[0]
            if eligible > time.time():
                return None
            heapq.heappop(self.due)
            start = next_open(eligible, self.contacts[cid]["timezone"], self.c.settings)
            if start > time.time():
                heapq.heappush(self.due, (start, cid))
                continue
            gate = self.last_start + 1 / self.p.cps
            if gate > time.time():
                await asyncio.sleep(gate - time.time())
            heapq.heappop(self.free)
            return cid, time.time()
        return None

    def _idle_s(self) -> float:
        """Realtime, nothing in flight: how long until the next contact is due (at most 1 s)."""
        if not self.due:
            return 0.0
        return max(0.0, min(1.0, self.due[0][0] - time.time()))

    def _receive(self) -> bool:
        raw = self.pool.result(1.0)
        if raw is None:
            return False
        self._apply(CallOutcome.from_dict(raw))
        return True

    def _apply(self, r: CallOutcome) -> None:
        start = self.inflight.pop(r.id, None)
        if not self.store.apply(self.c.name, r, self.c.settings):
            self.stats.duplicates += 1
            return
        self.stats.attempts += 1
        self.stats.outcomes[r.outcome] += 1
        self.stats.cpu_s += r.cpu
        self.stats.latency_s.extend(r.latency_s)
        end = r.started + r.duration
        self.stats.sim_end = max(self.stats.sim_end, end)
        if start is not None:
            heapq.heappush(self.free, end)
        row = self.store.rows("SELECT * FROM contacts WHERE id=?", r.contact_id)[0]
        self.contacts[r.contact_id] = row
        if row["status"] == "pending" and not self.store.is_opted_out(row["e164"]):
            heapq.heappush(self.due, (row["next_at"], r.contact_id))
        self.stats.busy = len(self.inflight)
