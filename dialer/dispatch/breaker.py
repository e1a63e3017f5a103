"""The circuit breaker: when more than half of the latest calls failed (inside
healthdial, or on the line), the campaign is paused with the reason, rather than burn
through the list one drop at a time."""

from __future__ import annotations

from collections import deque

WINDOW = 20  # the breaker looks at this many latest calls...
SHARE = 0.5  # ...and trips when more than this share of them failed


class Breaker:
    def __init__(self, window: int = WINDOW, share: float = SHARE) -> None:
        self.window, self.share = window, share
        self._recent: deque[bool] = deque(maxlen=window)  # latest calls: failed?

    def trips(self, failed: bool, why: str | None) -> str | None:
        """Note one call; the reason to pause when the breaker trips, else None."""
        self._recent.append(failed)
        n = sum(self._recent)
        if len(self._recent) == self.window and n > self.share * self.window:
            return (f"circuit breaker: {n} of the last {self.window} calls failed "
                    f"(last: {why or 'no reason given'})")
        return None
