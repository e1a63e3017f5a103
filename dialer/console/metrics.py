"""Prometheus /metrics: every campaign's figures, named and labelled the Prometheus way.

    healthdial_calls_total{campaign,outcome}             counter: attempts by outcome
    healthdial_lines_busy{campaign}                      gauge
    healthdial_line_cap{campaign}                        gauge
    healthdial_calls_per_second_cap{campaign}            gauge
    healthdial_contacts{campaign,status}                 gauge: pending, done, set_aside
    healthdial_campaign_state{campaign,state}            gauge: 1 for the campaign's state
    healthdial_turns_total{campaign,question,decision}   counter: turns by decision
    healthdial_turn_latency_seconds{campaign}            histogram: end of answer to next
                                                         prompt (paced lines)
    healthdial_queue_depth{campaign}                     gauge (RQ mode)
Read from the same one-second snapshots as the dashboards; needs a bearer token.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from dialer.console.auth import require
from dialer.console.context import SNAPSHOTS, STORE, in_store
from dialer.console.snapshot import campaign_list
from dialer.store import Store
from dialer.store.tallies import LATENCY_BUCKETS

STATES = ("idle", "running", "paused", "stopped", "finished")


def routes(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics)


def families(store: Store, snaps: Any) -> list[Metric]:
    """Every campaign's metric families, from its snapshot (store thread)."""
    fam: dict[str, Any] = {
        "calls": CounterMetricFamily("healthdial_calls", "Call attempts by outcome",
                                     labels=["campaign", "outcome"]),
        "busy": GaugeMetricFamily("healthdial_lines_busy", "Lines in a call",
                                  labels=["campaign"]),
        "cap": GaugeMetricFamily("healthdial_line_cap", "The line cap", labels=["campaign"]),
        "cps": GaugeMetricFamily("healthdial_calls_per_second_cap",
                                 "Calls started per second, at most", labels=["campaign"]),
        "contacts": GaugeMetricFamily("healthdial_contacts", "Contacts by status",
                                      labels=["campaign", "status"]),
        "state": GaugeMetricFamily("healthdial_campaign_state", "1 for the campaign's state",
                                   labels=["campaign", "state"]),
        "turns": CounterMetricFamily("healthdial_turns", "Turns by the decision taken",
                                     labels=["campaign", "question", "decision"]),
        "queue": GaugeMetricFamily("healthdial_queue_depth", "Batches waiting on RQ",
                                   labels=["campaign"]),
    }
    latency = HistogramMetricFamily("healthdial_turn_latency_seconds",
                                    "From the end of an answer to the next prompt",
                                    labels=["campaign"])
    for c in campaign_list(store):
        name = c["name"]
        snap = snaps.get(name)
        for outcome, n in snap["outcomes"].items():
            fam["calls"].add_metric([name, outcome], n)
        fam["busy"].add_metric([name], snap["lines_busy"])
        fam["cap"].add_metric([name], snap["line_cap"])
        fam["cps"].add_metric([name], snap["cps"])
        p = snap["progress"]
        for status in ("done", "set_aside"):
            fam["contacts"].add_metric([name, status], p[status])
        fam["contacts"].add_metric([name, "pending"], p["contacts"] - p["done"] - p["set_aside"])
        for state in STATES:
            fam["state"].add_metric([name, state], 1.0 if snap["state"] == state else 0.0)
        for (q, d), n in _turns(store, name).items():
            fam["turns"].add_metric([name, q, d], n)
        if "queue_depth" in snap["workers"]:
            fam["queue"].add_metric([name], snap["workers"]["queue_depth"])
        buckets, total = _histogram(store, name)
        latency.add_metric([name], buckets, total)
    return [*fam.values(), latency]


def _turns(store: Store, name: str) -> dict[tuple[str, str], int]:
    return {(r.question, r.decision): r.n for r in store.turn_stats(name)}


def _histogram(store: Store, name: str) -> tuple[list[tuple[str, float]], float]:
    """Cumulative buckets; the sum is estimated from bucket bounds (the store keeps counts)."""
    counts: dict[float, int] = defaultdict(int)
    for r in store.latency(name):
        counts[r.bucket] += r.n
    out, seen, total = [], 0, 0.0
    lower = 0.0
    for bound in LATENCY_BUCKETS:
        seen += counts[bound]
        total += counts[bound] * (lower + (bound if bound != float("inf") else lower)) / 2
        lower = bound if bound != float("inf") else lower
        out.append(("+Inf" if bound == float("inf") else str(bound), float(seen)))
    return out, total


class _Snapshot:
    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return iter(self._metrics)


async def metrics(request: web.Request) -> web.Response:
    require(request)
    app = request.app
    found = await in_store(app, families, app[STORE], app[SNAPSHOTS])
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(found))
    body = generate_latest(registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
