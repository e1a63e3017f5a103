"""What the console reads and keeps: live figures, tokens, sessions, the audit log."""

from __future__ import annotations

import time

from dialer.store.base import _mapped
from dialer.store.results import ResultTables
from dialer.store.rows import (
    AuditRow,
    LatencyRow,
    LiveFigures,
    PipelineRow,
    ReachRow,
    SessionRow,
    ThroughputRow,
    TokenRow,
    TurnStatRow,
    one,
    typed,
)
from survey_scripts.errors import UsageError


class ConsoleTables(ResultTables):
    # live figures and the console ----------------------------------------------
    @_mapped
    def write_live(self, campaign: str, figures: LiveFigures) -> None:
        """The dispatcher's live figures, about once a second: one row per campaign."""
        with self.tx():
            self.db.execute("INSERT OR REPLACE INTO live(campaign, at, data) VALUES (?,?,?)",
                            (campaign, time.time(), figures.to_json()))

    @_mapped
    def read_live(self, campaign: str) -> tuple[float, LiveFigures] | None:
        """When the figures were written, and the figures."""
        row = self.db.execute("SELECT at, data FROM live WHERE campaign=?",
                              (campaign,)).fetchone()
        return None if row is None else (row[0], LiveFigures.from_json(row[1]))

    @_mapped
    def pipeline(self, campaign: str, now: float) -> list[PipelineRow]:
        """Contacts by attempts made, status, time zone and whether they are due `now`."""
        return typed(PipelineRow, self.db.execute(
            "SELECT attempts, status, timezone, next_at <= ? AS due, COUNT(*) AS n, "
            "MIN(next_at) AS next_at FROM contacts WHERE campaign=? GROUP BY 1, 2, 3, 4",
            (now, campaign)).fetchall())

    @_mapped
    def throughput(self, campaign: str) -> list[ThroughputRow]:
        return typed(ThroughputRow, self.db.execute(
            "SELECT minute, outcome, n FROM throughput WHERE campaign=? "
            "ORDER BY minute", (campaign,)).fetchall())

    @_mapped
    def turn_stats(self, campaign: str, since_minute: int | None = None) -> list[TurnStatRow]:
        return typed(TurnStatRow, self.db.execute(
            "SELECT question, decision, SUM(n) AS n FROM turn_stats WHERE campaign=? AND "
            "minute >= ? GROUP BY 1, 2", (campaign, since_minute or 0)).fetchall())

    @_mapped
    def latency(self, campaign: str) -> list[LatencyRow]:
        return typed(LatencyRow, self.db.execute(
            "SELECT question, bucket, n FROM latency WHERE campaign=? "
            "ORDER BY bucket", (campaign,)).fetchall())

    @_mapped
    def district_reach(self, campaign: str) -> list[ReachRow]:
        """Per district: contacts, and those reached (a person answered, survey or not)."""
        return typed(ReachRow, self.db.execute(
            "SELECT district, COUNT(*) AS contacts, SUM(outcome IN ('completed', 'partial', "
            "'refused', 'opted_out')) AS reached FROM contacts WHERE campaign=? GROUP BY 1",
            (campaign,)).fetchall())

    # tokens, sessions, audit --------------------------------------------------------
    @_mapped
    def add_token(self, name: str, role: str, digest: str, expires: float | None) -> None:
        with self.tx():
            # a revoked token keeps its row (sessions and the audit name it) under a name
            # set aside, so its name can be given to a new token
            self.db.execute("UPDATE tokens SET name = name || ' (revoked #' || id || ')' "
                            "WHERE name=? AND revoked IS NOT NULL", (name,))
            if self.db.execute("SELECT 1 FROM tokens WHERE name=?", (name,)).fetchone():
                raise UsageError(f"a token named {name!r} exists; revoke it first, or choose "
                                 "another name")
            self.db.execute("INSERT INTO tokens(name, role, hash, created, expires) VALUES "
                            "(?,?,?,?,?)", (name, role, digest, time.time(), expires))

    @_mapped
    def token_by_hash(self, digest: str) -> TokenRow | None:
        row = self.db.execute(
            "SELECT * FROM tokens WHERE hash=? AND revoked IS NULL AND (expires IS NULL OR "
            "expires > ?)", (digest, time.time())).fetchone()
        found = one(TokenRow, row)
        return found

    @_mapped
    def tokens(self) -> list[TokenRow]:
        return typed(TokenRow, self.db.execute(
            "SELECT id, name, role, created, expires, revoked FROM tokens "
            "ORDER BY name").fetchall())

    @_mapped
    def revoke_token(self, name: str) -> bool:
        with self.tx():
            cur = self.db.execute("UPDATE tokens SET revoked=? WHERE name=? AND revoked IS NULL",
                                  (time.time(), name))
            self.db.execute("DELETE FROM sessions WHERE token_id IN (SELECT id FROM tokens "
                            "WHERE name=?)", (name,))
        return cur.rowcount > 0

    @_mapped
    def add_session(self, digest: str, token_id: int, csrf: str, expires: float) -> None:
        with self.tx():
            self.db.execute("DELETE FROM sessions WHERE expires < ?", (time.time(),))
            self.db.execute("INSERT INTO sessions(hash, token_id, csrf, created, expires) "
                            "VALUES (?,?,?,?,?)", (digest, token_id, csrf, time.time(), expires))

    @_mapped
    def session(self, digest: str) -> SessionRow | None:
        row = self.db.execute(
            "SELECT s.csrf, t.* FROM sessions s JOIN tokens t ON t.id=s.token_id WHERE "
            "s.hash=? AND s.expires > ? AND t.revoked IS NULL AND (t.expires IS NULL OR "
            "t.expires > ?)", (digest, time.time(), time.time())).fetchone()
        found = one(SessionRow, row)
        return found

    @_mapped
    def end_session(self, digest: str) -> None:
        with self.tx():
            self.db.execute("DELETE FROM sessions WHERE hash=?", (digest,))

    @_mapped
    def audit(self, who: str, action: str, target: str | None = None,
              detail: str | None = None) -> None:
        with self.tx():
            self.db.execute("INSERT INTO audit(at, who, action, target, detail) VALUES "
                            "(?,?,?,?,?)", (time.time(), who, action, target, detail))

    @_mapped
    def audit_log(self, limit: int = 200) -> list[AuditRow]:
        return typed(AuditRow, self.db.execute(
            "SELECT at, who, action, target, detail FROM audit ORDER BY id DESC LIMIT ?",
            (limit,)).fetchall())
