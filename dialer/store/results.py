"""Results: attempts applied once by attempt id, answers, counts and reports' rows."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

from dialer.policy.settings import CampaignSettings
from dialer.store.base import _mapped
from dialer.store.campaigns import CampaignTables
from dialer.store.rows import AnswerRow, AttemptRow, ContactRow, Counts, Respondent, typed
from dialer.wire import REFUSED, UNAUTHORIZED, CallOutcome
from survey_scripts.errors import StoreError
from survey_scripts.vocabulary import Outcome


class ResultTables(CampaignTables):
    # results --------------------------------------------------------------
    @_mapped
    def apply(self, campaign: str, r: CallOutcome, settings: CampaignSettings) -> bool:
        """Apply one finished attempt; False if it was applied before (nothing changes)."""
        with self.tx():
            cur = self.db.execute(
                "INSERT OR IGNORE INTO attempts(id, campaign, contact_id, attempt, started,"
                " duration, outcome, risk, cpu, reason) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (r.id, campaign, r.contact_id, r.attempt, r.started, r.duration, r.outcome,
                 r.risk, r.cpu, r.reason))
            if cur.rowcount == 0:
                return False
            self.tallies.add_call(campaign, r)
            contact = self.contact(r.contact_id)
            if contact is None:
                raise StoreError(f"{self.path}: a result for contact {r.contact_id}, which is "
                                 "not in this store; was the store replaced mid-run?")
            if r.outcome == Outcome.DROPPED:
                self._dropped(contact, r, settings)
                return True
            self._update_contact(contact, r, settings)
            self.db.executemany(
                "INSERT INTO answers(attempt_id, contact_id, campaign, question, value, how)"
                " VALUES (?,?,?,?,?,?)",
                [(r.id, r.contact_id, campaign, q, v, how) for q, v, how in r.answers])
            if r.outcome == Outcome.OPTED_OUT:
                self.db.execute("INSERT OR IGNORE INTO optouts(e164, ext, campaign, at) "
                                "VALUES (?,?,?,?)", (contact.e164, contact.ext, campaign,
                                                     r.started))
            if r.outcome == Outcome.COMPLETED:
                self.tallies.add(campaign, contact.district, r)
        return True

    def _update_contact(self, c: ContactRow, r: CallOutcome, s: CampaignSettings) -> None:
        retry = r.outcome in s.retry_outcomes and r.attempt < s.max_attempts
        status = "pending" if retry else "done"
        next_at = r.started + r.duration + s.retry_after_s(r.attempt) if retry else None
        self.db.execute("UPDATE contacts SET status=?, attempts=?, drops=0, refusals=0, "
                        "next_at=?, outcome=?, risk=COALESCE(?, risk) WHERE id=?",
                        (status, r.attempt, next_at, r.outcome, r.risk, c.id))

    def _dropped(self, c: ContactRow, r: CallOutcome, s: CampaignSettings) -> None:
        """Our failure, not the callee's: retried later without using up an attempt, and
        set aside with its reason after `max_drops` in a row. A call the trunk refused
        (503, 429...) is not the number's doing either: it waits as long as the trunk
        asked and counts no drop (a trunk refusing every call trips the breaker instead)."""
        if r.end_cause in (REFUSED, UNAUTHORIZED):
            wait = r.retry_after_s if r.retry_after_s is not None else s.drop_retry_minutes * 60
            self.db.execute("UPDATE contacts SET refusals=refusals+1, next_at=?, reason=? "
                            "WHERE id=?", (r.started + r.duration + wait, r.reason, c.id))
            return
        drops = c.drops + 1
        if drops >= s.max_drops:
            self.db.execute("UPDATE contacts SET status='set_aside', drops=?, next_at=NULL, "
                            "reason=? WHERE id=?", (drops, r.reason, c.id))
            return
        self.db.execute("UPDATE contacts SET drops=?, next_at=?, reason=? WHERE id=?",
                        (drops, r.started + r.duration + s.drop_retry_minutes * 60, r.reason,
                         c.id))

    @_mapped
    def set_aside(self, contact_id: int, reason: str) -> None:
        """A contact that cannot be called as it is (no attempt is used), with why."""
        with self.tx():
            self.db.execute("UPDATE contacts SET status='set_aside', next_at=NULL, reason=? "
                            "WHERE id=?", (reason, contact_id))

    # reading ----------------------------------------------------------------
    @_mapped
    def contacts_of(self, campaign: str) -> list[ContactRow]:
        return typed(ContactRow, self.db.execute(
            "SELECT * FROM contacts WHERE campaign=? ORDER BY id",
            (campaign,)).fetchall())

    @_mapped
    def attempts_of(self, campaign: str) -> list[AttemptRow]:
        return typed(AttemptRow, self.db.execute(
            "SELECT * FROM attempts WHERE campaign=? ORDER BY contact_id,"
            " attempt, id", (campaign,)).fetchall())

    @_mapped
    def answers_of(self, campaign: str) -> list[AnswerRow]:
        return typed(AnswerRow, self.db.execute(
            "SELECT * FROM answers WHERE campaign=? ORDER BY attempt_id,"
            " question", (campaign,)).fetchall())

    @_mapped
    def opt_out(self, e164: str, ext: str, campaign: str, at: float) -> None:
        with self.tx():
            self.db.execute("INSERT OR IGNORE INTO optouts(e164, ext, campaign, at) "
                            "VALUES (?,?,?,?)", (e164, ext, campaign, at))

    @_mapped
    def counts(self, campaign: str) -> Counts:
        """Contacts by status and by last outcome, attempts, and risk colours."""
        def grouped(sql: str) -> dict[str, int]:
            return {r[0]: r[1] for r in self.db.execute(sql, (campaign,))}

        attempts = self.db.execute("SELECT COUNT(*), MIN(started), MAX(started + duration) FROM"
                                   " attempts WHERE campaign=?", (campaign,)).fetchone()
        return Counts(
            status=grouped(f"SELECT {self._SHOWN}, COUNT(*) FROM contacts c WHERE "
                           "campaign=? GROUP BY 1"),
            outcomes=grouped("SELECT outcome, COUNT(*) FROM contacts WHERE campaign=? AND "
                             "outcome IS NOT NULL GROUP BY 1"),
            attempt_outcomes=grouped("SELECT outcome, COUNT(*) FROM attempts WHERE "
                                     "campaign=? GROUP BY 1"),
            risk=grouped("SELECT risk, COUNT(*) FROM contacts WHERE campaign=? AND "
                         "outcome='completed' GROUP BY 1"),
            attempts=attempts[0], first_start=attempts[1], last_end=attempts[2])

    @_mapped
    def iter_respondents(self, campaign: str) -> Iterator[Respondent]:
        """Each contact with its latest answers, for reports (two queries in all)."""
        answers: dict[int, dict[str, str | None]] = {}
        for r in self.db.execute("SELECT a.contact_id, a.question, a.value FROM answers a JOIN"
                                 " attempts t ON t.id=a.attempt_id WHERE a.campaign=? ORDER BY"
                                 " t.attempt", (campaign,)):
            answers.setdefault(r["contact_id"], {})[r["question"]] = r["value"]
        for c in self.db.execute(f"SELECT c.*, {self._SHOWN} AS shown FROM contacts c "
                                 "WHERE campaign=? ORDER BY id", (campaign,)).fetchall():
            yield Respondent(typed(ContactRow, [c])[0], c["shown"], answers.get(c["id"], {}))

    @_mapped
    def responses(self, campaign: str) -> list[sqlite3.Row]:
        """Every recorded answer with its call's start and its contact's number, in call
        order: FLOIP's response rows (an unanswered question has no row)."""
        return self.db.execute(
            "SELECT t.id AS attempt_id, t.started, t.duration, a.question, a.value, a.how,"
            " c.id AS contact_id, c.e164, c.ext FROM answers a JOIN attempts t ON"
            " t.id=a.attempt_id JOIN contacts c ON c.id=a.contact_id WHERE a.campaign=?"
            " AND a.value IS NOT NULL ORDER BY t.started, t.id, a.rowid",
            (campaign,)).fetchall()

    @_mapped
    def last_answered(self, campaign: str) -> float | None:
        """When the latest call with a recorded answer ended (None: no answer yet)."""
        row = self.db.execute(
            "SELECT MAX(t.started + t.duration) FROM answers a JOIN attempts t ON"
            " t.id=a.attempt_id WHERE a.campaign=? AND a.value IS NOT NULL",
            (campaign,)).fetchone()
        return None if row[0] is None else float(row[0])

    @_mapped
    def dump(self, campaign: str) -> str:
        """A canonical text of all results, for comparing runs."""
        rows = self.db.execute("SELECT c.e164, c.ext, c.status, c.outcome, c.attempts, c.risk "
                               "FROM contacts c WHERE campaign=? ORDER BY e164, ext",
                               (campaign,)).fetchall()
        ans = self.db.execute("SELECT c.e164, a.question, a.value, a.how, t.attempt FROM answers"
                              " a JOIN contacts c ON c.id=a.contact_id JOIN attempts t ON t.id="
                              "a.attempt_id WHERE a.campaign=? ORDER BY 1,5,2",
                              (campaign,)).fetchall()
        return json.dumps([[list(r) for r in x]
                           for x in (rows, ans, self.tallies.rows(campaign))])
