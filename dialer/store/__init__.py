"""The durable state of every campaign: SQLite in WAL mode. All of healthdial's SQL is in
this package, one module per table group (base, contacts, campaigns, results, console,
recordings), with its schema and migrations (schema.py) and the running tallies of
answers (tallies.py). It hands out typed rows (rows.py): nothing outside sees sqlite3.

Results are applied idempotently by attempt id: a result delivered twice (a
worker retried, a run resumed) is counted once, in one transaction with the
contact's new state and the aggregates. The files are owner-only: they hold
phone numbers and health answers. Every SQLite failure becomes a StoreError
that names the file and says what to do. It may import the policy, the wire messages and
survey_scripts, nothing above.
"""

from __future__ import annotations

from dialer.store.base import Campaign, Control, ControlState
from dialer.store.recordings import RecordingTables

__all__ = ["Campaign", "Control", "ControlState", "Store"]


class Store(RecordingTables):
    """Open an existing store; `create=True` makes it when missing (load, demo)."""
