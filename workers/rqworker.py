"""`healthdial worker`: RQ workers that keep their speech models warm across jobs.

Each process runs a SimpleWorker, which runs jobs in the worker process itself
(no fork per job), so the models a job loads stay loaded for the next one. A
SimpleWorker renews nothing while a job runs, so RQ would only find a killed
worker's job abandoned after the whole job timeout; this worker holds a short
lease on its job and renews it from a thread, so a killed worker's batch is
found within the lease (QueueSettings.lease_s) and dispatched again.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import threading

from rq import Queue
from rq.job import Job
from rq.worker import SimpleWorker, WorkerStatus

from workers.host import drain
from workers.rqjobs import calls_queue
from workers.settings import QueueSettings

log = logging.getLogger(__name__)


class LeasedWorker(SimpleWorker):
    lease_s = 45
    renew_s = 10.0

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return self.lease_s

    def execute_job(self, job: Job, queue: Queue) -> None:
        execution = self.prepare_execution(job)
        done = threading.Event()

        def renew() -> None:
            while not done.wait(self.renew_s):
                try:
                    self.maintain_heartbeats(job, execution)
                except Exception as e:  # Redis away: the lease may lapse, the batch is redone
                    log.warning("cannot renew the lease on job %s: %s", job.id, e)

        thread = threading.Thread(target=renew, name="lease", daemon=True)
        thread.start()
        try:
            self.perform_job(job, queue, execution)
        finally:
            done.set()
        self.set_state(WorkerStatus.IDLE)


def work(url: str, campaign: str) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = QueueSettings.from_url(url)
    redis = settings.connect()
    queue = Queue(calls_queue(campaign), connection=redis)
    worker = LeasedWorker([queue], connection=redis)
    worker.lease_s, worker.renew_s = settings.lease_s, settings.heartbeat_s
    try:
        worker.work(with_scheduler=False)
    finally:
        drain()  # realtime calls outlive their jobs: let them end before the process does


def serve(url: str, campaign: str, processes: int) -> None:
    """Start `processes` workers and wait for them (Ctrl-C or SIGTERM stops them)."""
    settings = QueueSettings.from_url(url)
    settings.connect(check=True)  # a wrong URL or a Redis that is down: say so now
    if processes == 1:  # this process is the worker: one PID to watch or to stop
        work(url, campaign)
        return
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=work, args=(url, campaign), name=f"healthdial-rq-{i}")
             for i in range(processes)]
    for p in procs:
        p.start()
    log.info("%d RQ workers on %s for campaign %s", processes, calls_queue(campaign), campaign)
    for p in procs:
        p.join()
