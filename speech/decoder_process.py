"""A recognizer in a process of its own, so a worker's event loop never waits on a decode.

pocketsphinx holds the GIL while it decodes (25-40 ms an answer). In a worker that
also paces hundreds of realtime lines, every decode was that much lag on every line
of the process, and the process's two lanes (lines, decoding) could not use two
cores. The worker keeps the dialog, endpointing and its lines; the child decodes.
The worker's speech thread hands it one answer at a time and waits with the GIL
released. A child that dies takes its call with it (EngineError: dropped, no attempt
used), and the next answer starts a new child.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import threading
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

from speech.audio import Audio
from speech.engines import ModelRef, make_recognizer
from speech.recognizer import Grammar, Recognition
from survey_scripts.errors import EngineError

log = logging.getLogger(__name__)


class DecoderProcess:
    """A Recognizer whose decoding runs in a child process (spawned: a forked child
    would inherit the parent's threads' locks)."""

    def __init__(self, spec: ModelRef) -> None:
        self._spec = spec
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._proc: Any = None
        self.name = str(self._call("name"))

    def recognize(self, audio: Audio, grammar: Grammar) -> Recognition:
        """Decoded in the child; its CPU seconds come back in `cpu_s`."""
        rec, cpu = self._call("recognize", audio, grammar)
        return replace(rec, cpu_s=rec.cpu_s + cpu)

    def unknown_words(self, words: list[str]) -> list[str]:
        return list(self._call("unknown_words", words))

    def close(self) -> None:
        with self._lock:
            if self._proc is not None:
                assert self._conn is not None
                self._conn.close()
                self._proc.join(5)
                if self._proc.is_alive():
                    self._proc.kill()
                self._proc = self._conn = None

    def _start(self) -> Connection:
        ctx = mp.get_context("spawn")
        mine, theirs = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(theirs, self._spec), daemon=True,
                                 name="healthdial-decoder")
        self._proc.start()
        theirs.close()
        self._conn = mine
        return mine

    def _call(self, op: str, *args: object) -> Any:
        with self._lock:
            conn = self._conn or self._start()
            try:
                conn.send((op, args))
                ok, value = conn.recv()
            except (EOFError, OSError) as e:
                self._proc, self._conn = None, None
                raise EngineError(f"the decoder process ended ({e or 'no reply'}); "
                                  "the next answer starts a new one") from e
        if not ok:
            raise value
        return value


def _serve(conn: Connection, spec: ModelRef) -> None:
    """The child: one recognizer, one request at a time, until the parent hangs up."""
    logging.basicConfig(level=logging.WARNING)
    try:
        recognizer = make_recognizer(spec)
    except EngineError as e:
        conn.send((False, e))
        return
    while True:
        try:
            op, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            if op == "name":
                value: Any = recognizer.name
            elif op == "recognize":
                t = time.thread_time()
                rec = recognizer.recognize(*args)
                value = (rec, time.thread_time() - t)
            else:
                value = recognizer.unknown_words(*args)
            conn.send((True, value))
        except Exception as e:  # handed to the caller, as a call in this process would raise
            conn.send((False, e))
