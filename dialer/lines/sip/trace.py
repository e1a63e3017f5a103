"""What the trunk said in a refusal, read from the SIP stack's message trace.

baresip-python raises a failed call with its status line only; a 503 or 429's
Retry-After (how long the trunk wants us to stay away) is not exposed. With the trace
on, every message the stack receives passes through the logger `baresip.native.sip`;
this handler keeps the Retry-After of refusals by Call-ID, and nothing else. The
logger is kept from propagating: the trace holds phone numbers (To, From), which must
never reach a log a person reads.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time

LOGGER = "baresip.native.sip"
_REFUSAL = re.compile(r"^RX [^\n]*\nSIP/2\.0 (4\d\d|5\d\d) ")
# final, and not a digest challenge (the stack answers it with a new INVITE, same Call-ID)
_FINAL = re.compile(r"^RX [^\n]*\nSIP/2\.0 (?!40[17] )[2-6]\d\d .*^CSeq:\s*\d+ INVITE",
                    re.M | re.S)
_CALL_ID = re.compile(r"^(?:Call-ID|i):\s*(\S+)", re.I | re.M)
_RETRY = re.compile(r"^Retry-After:\s*([^\r\n]+)", re.I | re.M)
KEPT = 10_000  # refusals remembered at most (a call reads its own at once)


class RetryAfters(logging.Handler):
    """Retry-After headers of refusals received, by Call-ID, until a call takes its own;
    and which calls' INVITEs have had their final answer (a cancelled call's 487, which
    the stack must still acknowledge before it is closed)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._by_call: dict[str, str] = {}
        self._final: set[str] = set()
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        final = _CALL_ID.search(text) if _FINAL.match(text) else None
        refusal = _REFUSAL.match(text)
        call_id, retry = (_CALL_ID.search(text), _RETRY.search(text)) if refusal else (None, None)
        with self._guard:  # one step: a call that sees its answer sees its Retry-After too
            if call_id and retry:
                if len(self._by_call) >= KEPT:
                    self._by_call.clear()
                self._by_call[call_id[1]] = retry[1].strip()
            if final:
                if len(self._final) >= KEPT:
                    self._final.clear()
                self._final.add(final[1])

    async def retry_after(self, call_id: str | None, within_s: float = 2.0) -> str | None:
        """A refused call's Retry-After, once the trace has its final answer: the trace
        comes on the stack's log thread, which can trail the call's own event under load
        (then a 503's wait was lost and the contact waited the drop delay instead)."""
        deadline = time.monotonic() + within_s
        # another thread's logger, with no event of ours to await
        while call_id and not self.answered(call_id) \
                and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        return self.take(call_id)

    def take(self, call_id: str | None) -> str | None:
        with self._guard:
            self._final.discard(call_id or "")
            return self._by_call.pop(call_id, None) if call_id else None

    def answered(self, call_id: str | None) -> bool:
        with self._guard:
            return bool(call_id) and call_id in self._final

    @classmethod
    def installed(cls) -> RetryAfters:
        """The process's one handler, on the trace logger, which no longer propagates."""
        logger = logging.getLogger(LOGGER)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False  # every time: a logging set-up since may have reset it
        for h in logger.handlers:
            if isinstance(h, cls):
                return h
        handler = cls()
        logger.addHandler(handler)
        return handler
