"""The speech executor: one thread per worker process decodes and synthesizes, robot first.

Engines are not thread-safe and pocketsphinx holds the GIL, so a process gets
one speech thread. On the realtime clock the simulated callees share it with
the robot; their replies are prepared while a prompt plays and can wait, while
a decode at end of speech is what the caller waits for. So the robot's work
jumps the simulator's queue.
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from contextvars import ContextVar
from enum import IntEnum
from typing import Any, TypeVar

T = TypeVar("T")


class Priority(IntEnum):
    ROBOT = 0
    SIMULATOR = 1


class SpeechThread:
    """A single worker thread taking jobs by priority, then in order of submission; a
    daemon, it lives as long as its process."""

    def __init__(self, name: str = "speech") -> None:
        self._jobs: queue.PriorityQueue[tuple[int, int, Any]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def submit(self, priority: Priority, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        self._jobs.put((priority, next(self._order), (future, fn, args)))
        return future

    def _work(self) -> None:
        while True:
            _, _, (future, fn, args) = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as e:  # handed to the awaiting task, as an executor would
                future.set_exception(e)


_current: ContextVar[SpeechThread | None] = ContextVar("speech_thread", default=None)
_process: SpeechThread | None = None


def install() -> SpeechThread:
    """Send the speech work of this task, and of tasks it creates, to the process's one
    speech thread (made on first use: every batch and event loop of the process shares it)."""
    global _process
    if _process is None:
        _process = SpeechThread()
    _current.set(_process)
    return _process


async def on_speech_thread(priority: Priority, fn: Callable[..., T], *args: Any) -> T:
    """Run blocking speech work off the event loop; without a speech thread, on a plain one."""
    thread = _current.get()
    if thread is None:
        return await asyncio.to_thread(fn, *args)
    return await asyncio.wrap_future(thread.submit(priority, fn, *args))


def timed(fn: Callable[..., T], *args: object) -> tuple[T, float]:
    """`fn(*args)` and the CPU seconds its thread spent on it (run it on the speech
    thread: the thread's clock counts only that call)."""
    start = time.thread_time()
    return fn(*args), time.thread_time() - start
