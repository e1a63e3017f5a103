"""The embedded default: one worker process per core, queues in-process (no server)."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
from typing import Any

from workers.jobs import run_batch

log = logging.getLogger(__name__)


def _worker(tasks: Any, results: Any, parent: int, realtime: bool) -> None:
    """Take batches until told to stop or until the dispatcher's process is gone."""
    logging.basicConfig(level=logging.WARNING)
    while True:
        try:
            batch = tasks.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:  # the dispatcher was killed: stop, do not orphan
                return
            continue
        if batch is None:
            return
        run_batch(batch, results.put, realtime)


class EmbeddedPool:
    """Worker processes fed batches through a task queue; results come back one by one."""

    def __init__(self, processes: int, realtime: bool = False) -> None:
        ctx = mp.get_context("spawn")  # no inherited espeak or decoder state
        self.tasks: Any = ctx.Queue()
        self.results: Any = ctx.Queue()
        self.procs = [ctx.Process(target=_worker, name=f"healthdial-worker-{i}", daemon=True,
                                  args=(self.tasks, self.results, os.getpid(), realtime))
                      for i in range(processes)]
        for p in self.procs:
            p.start()

    def submit(self, batch: list[dict[str, Any]]) -> None:
        self.tasks.put(batch)

    def result(self, timeout: float) -> dict[str, Any] | None:
        try:
            item: dict[str, Any] = self.results.get(timeout=timeout)
            return item
        except queue.Empty:
            return None

    def alive(self) -> int:
        return sum(p.is_alive() for p in self.procs)

    def close(self) -> None:
        for _ in self.procs:
            self.tasks.put(None)
        for p in self.procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
