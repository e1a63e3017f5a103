"""The tallies: running counts of answers by question, district and value (the aggregate
step of the data path, inside the store).

Each completed survey adds one to the count of each of its recorded answers, in
the same transaction that records the attempt (the store calls it from
`Store.apply`), so the counts always equal the answers stored, once each. The
reports and the console read prevalence from these counts without scanning
every answer.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict

from dialer.wire import CallOutcome

RISK = "__risk__"  # the row holding each district's risk colours
REJECTED = "rejected"  # counted beside a turn's decision when the recognizer rejected it
# turn latency buckets, seconds (upper bounds), as a Prometheus histogram has them
LATENCY_BUCKETS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, float("inf"))
NOT_COUNTED = ("unanswered", "dont_know")  # no value was recorded: not in any share


class Tallies:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def add(self, campaign: str, district: str, r: CallOutcome) -> None:
        """Count a completed survey's answers; call inside the store's transaction."""
        rows = [(q, "" if v is None else str(v)) for q, v, how in r.answers
                if how not in NOT_COUNTED]
        rows.append((RISK, r.risk or ""))
        self.db.executemany(
            "INSERT INTO aggregates(campaign, question, district, value, n) VALUES (?,?,?,?,1)"
            " ON CONFLICT(campaign, question, district, value) DO UPDATE SET n = n + 1",
            [(campaign, q, district, v) for q, v in rows])

    def add_call(self, campaign: str, r: CallOutcome) -> None:
        """Every attempt: its outcome in the minute it ended (in the campaign's clock), and
        each turn's decision, rejection and latency by question."""
        minute = int((r.started + r.duration) // 60)
        self.db.execute(
            "INSERT INTO throughput(campaign, minute, outcome, n) VALUES (?,?,?,1)"
            " ON CONFLICT(campaign, minute, outcome) DO UPDATE SET n = n + 1",
            (campaign, minute, r.outcome))
        turns: Counter[tuple[str, str]] = Counter()
        buckets: Counter[tuple[str, float]] = Counter()
        for question, decision, rejected, latency in r.turns:
            turns[(question, decision)] += 1
            if rejected:
                turns[(question, REJECTED)] += 1
            if latency is not None:
                bucket = next(b for b in LATENCY_BUCKETS if latency <= b)
                buckets[(question, bucket)] += 1
        self.db.executemany(
            "INSERT INTO turn_stats(campaign, question, decision, minute, n) VALUES (?,?,?,?,?)"
            " ON CONFLICT(campaign, question, decision, minute) DO UPDATE SET n = n + excluded.n",
            [(campaign, q, d, minute, n) for (q, d), n in turns.items()])
        self.db.executemany(
            "INSERT INTO latency(campaign, question, bucket, n) VALUES (?,?,?,?)"
            " ON CONFLICT(campaign, question, bucket) DO UPDATE SET n = n + excluded.n",
            [(campaign, q, b, n) for (q, b), n in buckets.items()])

    def counts(self, campaign: str) -> dict[str, dict[str, Counter[str]]]:
        """question -> district -> value -> respondents."""
        out: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
        for q, d, v, n in self.db.execute(
                "SELECT question, district, value, n FROM aggregates WHERE campaign=?",
                (campaign,)):
            out[q][d][v] += n
        return out

    def rows(self, campaign: str) -> list[list[object]]:
        return [list(r) for r in self.db.execute(
            "SELECT question, district, value, n FROM aggregates WHERE campaign=? ORDER BY 1,2,3",
            (campaign,))]
