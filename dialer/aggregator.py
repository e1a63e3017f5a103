"""The aggregator: running counts of answers by question, district and value.

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
NOT_COUNTED = ("unanswered", "dont_know")  # no value was recorded: not in any share


class Aggregator:
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
