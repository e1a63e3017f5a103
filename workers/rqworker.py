"""`healthdial worker`: RQ workers that keep their speech models warm across jobs.

Each process runs RQ's SimpleWorker, which runs jobs in the worker process itself
(no fork per job), so the models a job loads stay loaded for the next one.
"""

from __future__ import annotations

import logging
import multiprocessing as mp

from rq import Queue
from rq.worker import SimpleWorker

from workers.rqjobs import calls_queue, connect

log = logging.getLogger(__name__)


def work(url: str, campaign: str) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    redis = connect(url)
    queue = Queue(calls_queue(campaign), connection=redis)
    SimpleWorker([queue], connection=redis).work(with_scheduler=False)


def serve(url: str, campaign: str, processes: int) -> None:
    """Start `processes` workers and wait for them (Ctrl-C or SIGTERM stops them)."""
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
