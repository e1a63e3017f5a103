"""Contacts, the numbers blocked (do-not-call, opt-outs) and the do-not-call list."""

from __future__ import annotations

import time

from dialer.policy.contacts import Contact
from dialer.store.base import StoreBase, _mapped
from dialer.store.rows import ContactRow, DncRow, one, typed


class ContactTables(StoreBase):
    # contacts and blocked numbers -------------------------------------------
    @_mapped
    def known_numbers(self, campaign: str) -> set[tuple[str, str]]:
        q = "SELECT e164, ext FROM contacts WHERE campaign=?"
        return {(r[0], r[1]) for r in self.db.execute(q, (campaign,))}

    @_mapped
    def blocked_numbers(self) -> set[tuple[str, str]]:
        """Do-not-call and opted-out numbers; ext "" blocks every extension of the number."""
        return {(r[0], r[1]) for r in self.db.execute(
            "SELECT e164, ext FROM dnc UNION SELECT e164, ext FROM optouts")}

    @_mapped
    def is_blocked(self, e164: str, ext: str = "") -> bool:
        """Checked before every dial: a number added to the do-not-call list while a
        campaign runs is never dialled after."""
        return self.db.execute(
            "SELECT 1 FROM dnc WHERE e164=? AND ext IN ('', ?) UNION ALL "
            "SELECT 1 FROM optouts WHERE e164=? AND ext IN ('', ?) LIMIT 1",
            (e164, ext, e164, ext)).fetchone() is not None

    @_mapped
    def opted_out(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT e164 FROM optouts")}

    @_mapped
    def add_contacts(self, campaign: str, contacts: list[Contact], next_at: float) -> int:
        with self.tx():
            return self._add_contacts(campaign, contacts, next_at)

    def _add_contacts(self, campaign: str, contacts: list[Contact], next_at: float) -> int:
        cur = self.db.executemany(
            "INSERT OR IGNORE INTO contacts(campaign, e164, ext, name, district, language,"
            " timezone, next_at) VALUES (?,?,?,?,?,?,?,?)",
            [(campaign, c.e164, c.ext, c.name, c.district or "unknown", c.language, c.timezone,
              next_at) for c in contacts])
        return cur.rowcount

    _UNBLOCKED = ("NOT EXISTS (SELECT 1 FROM dnc d WHERE d.e164=c.e164 AND d.ext IN ('', c.ext))"
                  " AND NOT EXISTS (SELECT 1 FROM optouts o WHERE o.e164=c.e164 AND"
                  " o.ext IN ('', c.ext))")
    # a pending contact whose number is blocked is never called: shown as blocked
    _SHOWN = (f"CASE WHEN status='pending' AND NOT ({_UNBLOCKED}) THEN 'blocked' "
              "ELSE status END")

    @_mapped
    def pending(self, campaign: str) -> list[ContactRow]:
        """Contacts still to call, never a blocked number."""
        return typed(ContactRow, self.db.execute(
            f"SELECT * FROM contacts c WHERE campaign=? AND status='pending' AND "
            f"{self._UNBLOCKED} ORDER BY id", (campaign,)).fetchall())

    @_mapped
    def contact(self, contact_id: int) -> ContactRow | None:
        return one(ContactRow, self.db.execute("SELECT * FROM contacts WHERE id=?",
                                               (contact_id,)).fetchone())

    # the do-not-call list -----------------------------------------------------
    @_mapped
    def dnc_add(self, numbers: list[tuple[str, str]], source: str) -> int:
        with self.tx():
            cur = self.db.executemany(
                "INSERT OR IGNORE INTO dnc(e164, ext, added_at, source) VALUES (?,?,?,?)",
                [(e, x, time.time(), source) for e, x in numbers])
        return cur.rowcount

    @_mapped
    def dnc_remove(self, numbers: list[tuple[str, str]]) -> int:
        with self.tx():
            cur = self.db.executemany("DELETE FROM dnc WHERE e164=? AND ext=?", numbers)
        return cur.rowcount

    @_mapped
    def dnc_entries(self) -> list[DncRow]:
        return typed(DncRow, self.db.execute(
            "SELECT e164, ext, added_at, source FROM dnc ORDER BY e164, ext").fetchall())
