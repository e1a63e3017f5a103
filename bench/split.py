"""Where the CPU goes: exclusive thread time per (owner, part), by wrapping functions.

cProfile slows pocketsphinx-heavy code unevenly and cannot say who called; this
wraps the few functions that matter, charges each its own time minus that of
wrapped functions it called, and names the outermost wrapped caller its owner
(the robot, or the simulated callee).
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any


class Split:
    def __init__(self) -> None:
        self.seconds: Counter[tuple[str, str]] = Counter()
        self._local = threading.local()  # per thread: [part, started, wrapped callees' time]
        self._undo: list[tuple[object, str, Any]] = []

    def wrap(self, owner: object, name: str, part: str) -> None:
        fn = getattr(owner, name)

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            stack = self._stack()
            stack.append([part, time.thread_time(), 0.0])
            try:
                return fn(*args, **kwargs)
            finally:
                _, started, inner = stack.pop()
                spent = time.thread_time() - started
                who = stack[0][0] if stack else part
                self.seconds[(who, part)] += spent - inner
                if stack:
                    stack[-1][2] += spent

        self._undo.append((owner, name, vars(owner)[name]))
        setattr(owner, name, timed)

    def _stack(self) -> list[list[Any]]:
        if not hasattr(self._local, "stack"):
            self._local.stack = []
        stack: list[list[Any]] = self._local.stack
        return stack

    def wrap_all(self, cls: type, part: str, skip: Callable[[str], bool]) -> None:
        """Every public method of `cls`."""
        for name, value in list(vars(cls).items()):
            if inspect.isfunction(value) and not name.startswith("_") and not skip(name):
                self.wrap(cls, name, part)

    def undo(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo.clear()

    def by_part(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for (_, part), s in self.seconds.items():
            out[part] += s
        return out
