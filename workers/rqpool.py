"""The dispatcher's side of Redis: batches out as RQ jobs, results back from a list.

Lost work is found and handed out again: a batch whose job failed, was abandoned
by a killed worker (RQ's started-job registry and heartbeat), or vanished with a
Redis restart is re-enqueued with only its calls that have not reported. Calls
are idempotent by attempt id, so a call done twice is still counted once.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry

from workers.rqjobs import call_batch, calls_queue, connect, results_key

log = logging.getLogger(__name__)
CHECK_EVERY_S = 5.0


def job_timeout(calls: int, realtime: bool) -> int:
    """Seconds a batch may run. RQ's SimpleWorker finds a killed worker's job abandoned
    this long (plus 60 s) after it started, so it is kept close to the real need."""
    return 1800 if realtime else 60 + 30 * calls


class RQPool:
    def __init__(self, url: str, campaign: str, realtime: bool = False) -> None:
        self.url, self.campaign, self.realtime = url, campaign, realtime
        self.redis = connect(url)
        self.queue = Queue(calls_queue(campaign), connection=self.redis)
        self.open: dict[str, dict[str, dict[str, Any]]] = {}  # rq job id -> unreported calls
        self.owner: dict[str, str] = {}  # call id -> rq job id
        self._checked = time.monotonic()
        self._finished: dict[str, float] = {}

    def submit(self, batch: list[dict[str, Any]]) -> None:
        job = self.queue.enqueue(call_batch, batch, self.campaign, self.url, self.realtime,
                                 job_timeout=job_timeout(len(batch), self.realtime),
                                 result_ttl=600, failure_ttl=3600)
        self.open[job.id] = {c["id"]: c for c in batch}
        self.owner.update({c["id"]: job.id for c in batch})

    def result(self, timeout: float) -> dict[str, Any] | None:
        if time.monotonic() - self._checked > CHECK_EVERY_S:
            self._recover()
        try:
            item = self.redis.blpop([results_key(self.campaign)], timeout=max(1, int(timeout)))
        except (RedisConnectionError, RedisTimeoutError):
            time.sleep(1.0)
            return None
        if item is None:
            return None
        data: dict[str, Any] = json.loads(item[1])
        job_id = self.owner.pop(data["id"], None)
        if job_id is not None:
            self.open[job_id].pop(data["id"], None)
            if not self.open[job_id]:
                del self.open[job_id]
        return data

    def alive(self) -> int:
        try:
            return max(1, len(Worker.all(queue=self.queue)))  # no worker yet: keep waiting
        except (RedisConnectionError, RedisTimeoutError):
            return 1

    def _recover(self) -> None:
        self._checked = time.monotonic()
        try:
            StartedJobRegistry(queue=self.queue).cleanup()  # moves abandoned jobs to failed
            lost = [j for j in list(self.open) if self._lost(j)]
        except (RedisConnectionError, RedisTimeoutError):
            return
        for job_id in lost:
            calls = list(self.open.pop(job_id).values())
            log.warning("batch %s was lost (%d calls not reported); dispatching them again",
                        job_id, len(calls))
            self.submit(calls)

    def _lost(self, job_id: str) -> bool:
        try:
            status = Job.fetch(job_id, connection=self.redis).get_status()
        except NoSuchJobError:
            return True  # gone with a Redis restart
        if status == JobStatus.FINISHED:  # results delivered: lost only if they never come
            first = self._finished.setdefault(job_id, time.monotonic())
            return time.monotonic() - first > 30.0
        return status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)

    def close(self) -> None:
        self.redis.close()
