"""The embedded default: one worker process per core, queues in-process (no server)."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import multiprocessing as mp
import os
import queue
import signal
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dialer.executor import install
from dialer.lines.pacing import Pacing
from dialer.wire import Batch, CallOutcome
from workers.jobs import Gate, close_stacks, run_calls

log = logging.getLogger(__name__)
_STOP = "stop"


def _take(tasks: Any, parent: int) -> Any:
    """The next batch; stop when told to, or when the dispatcher's process is gone."""
    while os.getppid() == parent:  # the dispatcher was killed: do not live on as an orphan
        try:
            return tasks.get(timeout=1.0)
        except queue.Empty:
            continue
    return _STOP


def _die_with(parent: int) -> None:
    """Linux: the kernel kills this worker when its dispatcher dies (kill -9 included). A
    worker of a dead dispatcher has nobody to report to, and blocked writing a big result
    (a recording) to a pipe nobody reads, it would never notice by itself."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: _take's parent check remains
        return
    if os.getppid() != parent:  # died before the setting took
        os._exit(0)


PR_SET_PDEATHSIG = 1


def _worker(tasks: Any, results: Any, parent: int, realtime: bool, active: Any) -> None:
    # Ctrl-C reaches the whole process group: the dispatcher stops its workers itself,
    # so they neither print a traceback nor die half-way through writing a result
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with(parent)
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_serve(tasks, results, parent, Pacing(realtime), Gate(active.is_set)))
    if os.getppid() != parent:  # orphaned: results nobody will read must not hold us
        results.cancel_join_thread()


async def _serve(tasks: Any, results: Any, parent: int, pacing: Pacing, gate: Gate) -> None:
    """Batches run side by side on this loop, so a realtime line waits without a process."""
    install()
    loop = asyncio.get_running_loop()
    taker = ThreadPoolExecutor(1, "tasks")
    running: set[asyncio.Task[int]] = set()
    # fast clock: one batch at a time, so batches spread over the processes (it is all
    # CPU); realtime: many, since a line mostly waits for the wall clock
    limit = 10_000 if pacing.realtime else 1
    while True:
        if len(running) >= limit:
            await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        batch = await loop.run_in_executor(taker, _take, tasks, parent)
        if batch is None or batch == _STOP:
            break
        task = asyncio.create_task(run_calls(batch, results.put, pacing, gate=gate),
                                   name="batch")
        running.add(task)
        task.add_done_callback(running.discard)
    if batch is None:  # an orderly stop: finish what was taken
        await asyncio.gather(*running)
    await close_stacks()
    taker.shutdown(wait=False)


class EmbeddedPool:
    """Worker processes fed batches through a task queue; results come back one by one."""

    lost_batches = 0  # nothing is lost between the dispatcher and these workers

    def __init__(self, processes: int, realtime: bool = False) -> None:
        ctx = mp.get_context("spawn")  # no inherited espeak or decoder state
        self.tasks: Any = ctx.Queue()
        self.results: Any = ctx.Queue()
        self.active: Any = ctx.Event()  # set: workers may start calls; clear: paused
        self.active.set()
        self.procs = [ctx.Process(target=_worker, name=f"healthdial-worker-{i}", daemon=True,
                                  args=(self.tasks, self.results, os.getpid(), realtime,
                                        self.active))
                      for i in range(processes)]
        for p in self.procs:
            p.start()

    def submit(self, batch: Batch) -> None:
        self.tasks.put(batch)

    def result(self, timeout: float) -> CallOutcome | None:
        try:
            item: CallOutcome = self.results.get(timeout=timeout)
            return item
        except queue.Empty:
            return None

    def alive(self) -> int:
        return sum(p.is_alive() for p in self.procs)

    def set_paused(self, paused: bool) -> None:
        if paused:
            self.active.clear()
        else:
            self.active.set()

    def close(self, wait_s: float = 10.0) -> None:
        """Orderly: workers finish the batches they took. With `wait_s` 0 (Ctrl-C), they
        stop at once; their unreported calls are called again on resume."""
        for _ in self.procs:
            self.tasks.put(None)
        for p in self.procs:
            p.join(timeout=wait_s)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
