"""The trunk's back-off: a carrier that answers 503 or 429 with Retry-After is asking
every call, not one, to wait; no new call starts before then (calls in flight go on).
Such a refusal uses no attempt and counts no drop (the store); a trunk that keeps
refusing trips the breaker, which pauses the campaign."""

from __future__ import annotations

import logging
import time

from dialer.wire import CallOutcome

log = logging.getLogger(__name__)
MAX_WAIT_S = 3600.0  # a Retry-After beyond an hour is taken as an hour (the breaker decides)


class Backoff:
    def __init__(self) -> None:
        self.until = 0.0  # wall time before which no call starts

    def note(self, r: CallOutcome, campaign: str) -> None:
        if r.retry_after_s is None:
            return
        until = time.time() + min(r.retry_after_s, MAX_WAIT_S)
        if until > self.until:
            log.warning("campaign %s: %s; it asked for %g s: no call starts before %s",
                        campaign, r.reason or "the trunk refused a call", r.retry_after_s,
                        time.strftime("%H:%M:%S", time.localtime(until)))
            self.until = until

    def holding(self) -> bool:
        return time.time() < self.until
