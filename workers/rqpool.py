"""The dispatcher's side of Redis: batches out as RQ jobs, results back from a list.

Lost work is found and handed out again: a batch whose job failed, was abandoned
by a killed worker (RQ's started-job registry, once the worker's lease on it
lapses), or vanished with a Redis restart is re-enqueued with only its calls
that have not reported. Calls are idempotent by attempt id, so a call done twice
is still counted once.
"""

from __future__ import annotations

import logging
import time
import uuid

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry

from dialer.wire import Batch, CallOutcome
from workers import fence
from workers.rqjobs import call_batch, calls_queue, paused_key, results_key, survey_key
from workers.settings import QueueSettings

log = logging.getLogger(__name__)
_OUTAGE = (RedisConnectionError, RedisTimeoutError)


class RQPool:
    def __init__(self, settings: QueueSettings, campaign: str) -> None:
        self.s, self.campaign = settings, campaign
        self.redis = settings.connect(check=True)
        self.queue = Queue(calls_queue(campaign), connection=self.redis)
        self.open: dict[str, Batch] = {}  # rq job id -> the calls of its batch not reported
        self.owner: dict[str, str] = {}  # call id -> rq job id
        self._checked = time.monotonic()
        self._finished: dict[str, float] = {}
        self.texts: dict[str, str] = {}  # survey hash -> text, to put back after a restart
        self.lost_batches = 0

    def submit(self, batch: Batch) -> None:
        # the survey goes with every batch, under its hash: a Redis restart loses it too
        text = self.texts.setdefault(batch.survey_hash, batch.survey_text or "")
        self.redis.set(survey_key(batch.survey_hash), text, ex=self.s.survey_ttl_s)
        batch = batch.without_text()
        job_id = uuid.uuid4().hex
        # the calls are this job's from now on, and no earlier job's (fencing)
        fence.assign(self.redis, self.campaign, [c.id for c in batch.calls], job_id,
                     self.s.results_ttl_s)
        job = self.queue.enqueue(
            call_batch, batch, job_id=job_id,
            job_timeout=self.s.job_timeout(len(batch.calls), batch.realtime),
            result_ttl=self.s.result_ttl_s, failure_ttl=self.s.failure_ttl_s,
            # RQ shows a job's arguments as its description (rq info, dashboards): not the
            # numbers it dials
            description=f"{len(batch.calls)} calls of {self.campaign}")
        self.open[job.id] = batch
        self.owner.update({c.id: job.id for c in batch.calls})

    def result(self, timeout: float) -> CallOutcome | None:
        if time.monotonic() - self._checked > self.s.check_every_s:
            self._recover()
        try:
            item = self.redis.blpop([results_key(self.campaign)], timeout=max(1, int(timeout)))
        except _OUTAGE:
            time.sleep(1.0)
            return None
        if item is None:
            return None
        outcome = CallOutcome.from_json(item[1])
        job_id = self.owner.pop(outcome.id, None)
        if job_id is not None:
            left = self.open[job_id].only(set(self._unreported(job_id)) - {outcome.id})
            if left.calls:
                self.open[job_id] = left
            else:
                del self.open[job_id]
        return outcome

    def _unreported(self, job_id: str) -> list[str]:
        return [c.id for c in self.open[job_id].calls]

    def set_paused(self, paused: bool) -> None:
        """Workers look before each call; the key outlives no dispatcher by more than a day."""
        try:
            if paused:
                self.redis.set(paused_key(self.campaign), "1", ex=24 * 3600)
            else:
                self.redis.delete(paused_key(self.campaign))
        except _OUTAGE:
            log.warning("Redis unreachable: the pause reaches the workers when it is back")

    def alive(self) -> int:
        try:
            return max(1, len(Worker.all(queue=self.queue)))  # no worker yet: keep waiting
        except _OUTAGE:
            return 1

    def _recover(self) -> None:
        self._checked = time.monotonic()
        try:
            StartedJobRegistry(queue=self.queue).cleanup()  # moves abandoned jobs to failed
            lost = [(j, self._lost(j)) for j in list(self.open)]
        except _OUTAGE:
            return
        for job_id, ids in lost:
            if not ids:
                continue
            batch = self.open[job_id]
            gone, kept = batch.only(ids), batch.only({c.id for c in batch.calls} - ids)
            if kept.calls:
                self.open[job_id] = kept
            else:
                del self.open[job_id]
            self.lost_batches += 1
            log.warning("batch %s was lost (%d calls not reported); dispatching them again",
                        job_id, len(gone.calls))
            self.submit(gone)  # the calls are the new job's: the old one can make none

    def _lost(self, job_id: str) -> set[str]:
        """The calls of an open job that are lost: all of them if the job failed or was
        abandoned; once it finished (realtime: its calls were handed to the worker's
        host), those whose own lease lapsed without a result."""
        ids = {c.id for c in self.open[job_id].calls}
        try:
            status = Job.fetch(job_id, connection=self.redis).get_status()
        except NoSuchJobError:
            return ids  # gone with a Redis restart
        if status == JobStatus.FINISHED:
            first = self._finished.setdefault(job_id, time.monotonic())
            if time.monotonic() - first <= self.s.finished_grace_s:
                return set()
            now = time.time()
            leases = self.redis.zmscore(fence.alive_key(self.campaign), sorted(ids))
            return {i for i, end in zip(sorted(ids), leases, strict=True)
                    if end is None or end < now}
        if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
            return ids
        return set()

    def close(self, wait_s: float = 0.0) -> None:
        """Batches already queued stay for the workers; results wait in Redis for the next
        run, which applies them by attempt id."""
        self.redis.close()
