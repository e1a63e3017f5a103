"""A worker process's calls, on one event loop that outlives the RQ jobs bringing them.

RQ runs one job at a time per worker. A realtime call mostly waits for the wall
clock, so a job that ran its calls to the end would leave the process's share of
the lines idle while lines freed one by one queue behind it as 1-call jobs: over RQ
concurrency fell to the number of worker processes. Here a job only hands its calls
to the host: on the realtime clock it returns as soon as each call has been claimed
(workers/fence.py), and the worker takes the next job while they run, up to
`lines_per_process` calls at once. On the fast clock (all CPU) the job waits for its
calls, so batches spread over the processes as before.

Calls outlive their job, so the host keeps their lease itself: every heartbeat it
renews `hd:<campaign>:alive` (a sorted set, call id -> lease end) for each call it
still owns, and cuts short a call it no longer owns (its batch was handed to another
worker while this one was stalled). The dispatcher takes a call whose lease lapsed
for lost and hands it out again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

from dialer.executor import install
from dialer.lines.pacing import Pacing
from dialer.wire import Batch, CallJob, CallOutcome
from workers import fence
from workers.jobs import Gate, close_stacks, run_calls
from workers.settings import QueueSettings

log = logging.getLogger(__name__)



@dataclass
class _Held:
    campaign: str
    job_id: str
    task: asyncio.Task[object] | None = None
    cut: bool = False  # the host cancelled it: another worker owns it now


class LineHost:
    """One per worker process: a loop in its own thread, a lease thread beside it."""

    def __init__(self, redis: Redis, settings: QueueSettings) -> None:
        self.redis, self.s = redis, settings
        self.room = threading.BoundedSemaphore(settings.lines_per_process)
        self.held: dict[str, _Held] = {}  # call id -> whose it is, while it runs
        self._lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="calls", daemon=True).start()
        threading.Thread(target=self._lease, name="call-lease", daemon=True).start()

    def run(self, batch: Batch, job_id: str, gate: Gate, sink: Callable[[CallOutcome], None],
            wait_s: float) -> int:
        """Take the batch's calls (as room allows); return once each is claimed (realtime)
        or done (fast clock). Room is taken here, in the job, so a full host takes no job."""
        for _ in batch.calls:
            self.room.acquire()
        claimed: set[str] = set()
        started = threading.Semaphore(0)

        async def claim(job: CallJob) -> bool:
            ok = await asyncio.to_thread(fence.claim, self.redis, batch.campaign, job.id, job_id)
            if ok:
                with self._lock:
                    self.held[job.id] = _Held(batch.campaign, job_id,
                                              asyncio.current_task())
                claimed.add(job.id)
                await asyncio.to_thread(self._renew_one, job.id, self.held[job.id])
            else:
                log.warning("call %s was handed to another worker (this one lost its lease); "
                            "not made here", job.id)
                self.room.release()
            started.release()
            return ok

        def done(outcome: CallOutcome) -> None:
            with self._lock:
                self.held.pop(outcome.id, None)
            self.room.release()
            if outcome.id not in claimed:  # dropped before its claim (no model here)
                started.release()
            sink(outcome)

        def cut(job: CallJob) -> bool:  # cancelled as no longer ours: no result
            with self._lock:
                h = self.held.pop(job.id, None)
            if h is None or not h.cut:
                return False
            self.room.release()
            return True

        async def calls() -> int:
            install()  # the process's one speech thread, for this task and its calls
            return await run_calls(batch, done, Pacing(batch.realtime),
                                   gate=Gate(gate.is_open, claim, cut))

        future: Future[int] = asyncio.run_coroutine_threadsafe(calls(), self.loop)
        if not batch.realtime:
            return future.result()
        deadline = time.monotonic() + wait_s
        for _ in batch.calls:  # a paused campaign holds calls at the gate: the job waits
            if not started.acquire(timeout=max(0.0, deadline - time.monotonic())):
                break
        return len(claimed)

    def drain(self, timeout_s: float) -> int:
        """A worker told to stop (warm shutdown) lets the calls it took finish first;
        what is left after `timeout_s` is cut off and redone elsewhere. Returns it."""
        deadline = time.monotonic() + timeout_s
        while self.held and time.monotonic() < deadline:
            time.sleep(0.2)
        return len(self.held)

    def _lease(self) -> None:
        while True:
            time.sleep(self.s.heartbeat_s)
            with self._lock:
                held = list(self.held.items())
            for call_id, h in held:
                try:
                    ours = self._renew_one(call_id, h)
                except RedisError as e:  # the lease may lapse; the call is then redone
                    log.warning("cannot renew the lease on call %s: %s", call_id, e)
                    continue
                if not ours and h.task is not None:
                    h.cut = True
                    log.warning("call %s was handed to another worker; cutting it short",
                                call_id)
                    self.loop.call_soon_threadsafe(h.task.cancel)

    def _renew_one(self, call_id: str, h: _Held) -> bool:
        return fence.renew(self.redis, h.campaign, call_id, h.job_id,
                           time.time() + self.s.lease_s)


_host: LineHost | None = None
DRAIN_S = 300.0  # a stopping worker waits this long for its calls in progress


def drain() -> None:
    if _host is not None and _host.held:
        log.info("waiting for %d calls in progress to finish", len(_host.held))
        left = _host.drain(DRAIN_S)
        if left:
            log.warning("%d calls cut off; the dispatcher hands them out again", left)
    if _host is not None:  # the lines' back-ends let go (a SIP stack's thread)
        asyncio.run_coroutine_threadsafe(close_stacks(), _host.loop).result(30)


def host(redis: Redis) -> LineHost:
    global _host
    if _host is None:
        _host = LineHost(redis, QueueSettings.from_env())
    return _host
