"""What the realtime clock costs the caller: turn latency and how late lines wake.

A meter rides on a Clock; each sample carries its wall time, so a benchmark can
keep only the samples of its measuring window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Meter:
    latency: list[tuple[float, float]] = field(default_factory=list)  # (wall, seconds)
    lag: list[tuple[float, float]] = field(default_factory=list)

    def turn(self, seconds: float) -> None:
        self.latency.append((time.time(), seconds))

    def woke(self, late: float) -> None:
        self.lag.append((time.time(), late))

    @staticmethod
    def window(samples: list[tuple[float, float]], start: float, end: float) -> list[float]:
        return [x for t, x in samples if start <= t < end]


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50, p95, p99 and max in milliseconds; None when nothing was measured."""
    if not values:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    a = np.asarray(values) * 1000
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return {"n": len(values), "p50_ms": round(float(p50), 1), "p95_ms": round(float(p95), 1),
            "p99_ms": round(float(p99), 1), "max_ms": round(float(a.max()), 1)}
