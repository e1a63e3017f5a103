"""A recognizer in a process of its own, so a worker's event loop never waits on a decode.

pocketsphinx holds the GIL while it decodes (25-40 ms an answer). In a worker that
also paces hundreds of realtime lines, every decode was that much lag on every line
of the process, and the process's two lanes (lines, decoding) could not use two
cores. The worker keeps the dialog, endpointing and its lines; the child decodes.
The worker's speech thread hands it one answer at a time and waits with the GIL
released. A child that dies takes its call with it (EngineError: dropped, no attempt
used), and the next answer starts a new child.

The child is a plain subprocess (`python -m speech.decoder_process FD`) on a socket
pair, not a multiprocessing child: the embedded workers are daemonic processes, which
multiprocessing forbids to have children. It ignores SIGINT (an operator's Ctrl-C
reaches the whole process group; its parent decides when it ends) and ends when its
parent closes the socket, or dies.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

from speech.audio import Audio
from speech.engines import Choice, ModelRef, make_recognizer
from speech.recognizer import Grammar, Recognition
from survey_scripts.errors import EngineError

log = logging.getLogger(__name__)


class DecoderProcess:
    """A Recognizer whose decoding runs in a child process."""

    def __init__(self, spec: ModelRef) -> None:
        self._spec = Choice(spec.engine, spec.model, spec.hint)
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
                try:
                    self._proc.wait(5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
                self._proc = self._conn = None

    def _start(self) -> Connection:
        mine, theirs = socket.socketpair()
        with theirs:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "speech.decoder_process", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        self._conn = conn = Connection(mine.detach())
        conn.send(self._spec)
        return conn

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


def _serve(conn: Connection) -> None:
    """The child: one recognizer, one request at a time, until the parent hangs up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING)
    try:
        recognizer = make_recognizer(conn.recv())
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


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1])))
