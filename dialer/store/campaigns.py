"""Campaigns and their control (state, line cap, cps), as typed values."""

from __future__ import annotations

import sqlite3

from dialer.policy.contacts import Contact
from dialer.policy.settings import CPS_MAX, CPS_MIN, CampaignSettings, cps_problem
from dialer.store.base import DEFAULT_CPS, DEFAULT_LINES, Campaign, Control, ControlState, _mapped
from dialer.store.contacts import ContactTables
from dialer.store.schema import survey_hash
from dialer.wire import EngineSpec, LineConfig
from survey_scripts.errors import UsageError


class CampaignTables(ContactTables):
    # campaigns ------------------------------------------------------------
    @_mapped
    def create_campaign(self, c: Campaign, contacts: list[Contact]) -> int:
        """A new campaign and its first contacts, in one transaction; contacts added."""
        with self.tx():
            self.db.execute(
                "INSERT INTO campaigns(name, script, region, settings, seed, start_at,"
                " survey_text, survey_hash, engine, model, model_hint, line)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (c.name, c.script, c.region, c.settings.to_json(), c.seed, c.start_at,
                 c.survey_text, c.survey_hash, c.engine.engine, c.engine.model, c.engine.hint,
                 c.line.to_json()))
            return self._add_contacts(c.name, contacts, c.start_at)

    @_mapped
    def has_campaign(self, name: str) -> bool:
        return self.db.execute("SELECT 1 FROM campaigns WHERE name=?", (name,)).fetchone() \
            is not None

    @_mapped
    def campaign(self, name: str) -> Campaign:
        row = self.db.execute("SELECT * FROM campaigns WHERE name=?", (name,)).fetchone()
        if row is None:
            raise UsageError(f"no campaign {name!r} in {self.path}; load a list first, or see "
                             "`healthdial campaigns` for the campaigns there")
        return Campaign(row["name"], row["script"], row["region"],
                        CampaignSettings.from_json(row["settings"]), row["start_at"],
                        row["survey_text"], row["survey_hash"],
                        EngineSpec(row["engine"], row["model"], row["model_hint"]),
                        LineConfig.from_json(row["line"]), self._control(row))

    @staticmethod
    def _control(row: sqlite3.Row) -> Control:
        cps = row["cps"] or DEFAULT_CPS
        if cps_problem(cps):  # stored by an older release that took any number
            cps = min(max(float(cps), CPS_MIN), CPS_MAX)
        return Control(ControlState(row["control"]), row["control_reason"],
                       row["line_cap"] or DEFAULT_LINES,
                       cps)

    @_mapped
    def control(self, name: str) -> Control:
        """Read once a second by a running dispatcher: one indexed row."""
        row = self.db.execute("SELECT control, control_reason, line_cap, cps FROM campaigns "
                              "WHERE name=?", (name,)).fetchone()
        if row is None:
            raise UsageError(f"no campaign {name!r} in {self.path}")
        return self._control(row)

    @_mapped
    def set_control(self, name: str, state: ControlState | None = None, reason: str | None = None,
                    line_cap: int | None = None, cps: float | None = None) -> Control:
        with self.tx():
            if state is not None:
                self.db.execute("UPDATE campaigns SET control=?, control_reason=? WHERE name=?",
                                (state, reason, name))
            if line_cap is not None:
                self.db.execute("UPDATE campaigns SET line_cap=? WHERE name=?", (line_cap, name))
            if cps is not None:
                self.db.execute("UPDATE campaigns SET cps=? WHERE name=?", (cps, name))
        return self.control(name)

    @_mapped
    def campaign_names(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM campaigns ORDER BY name")]

    @_mapped
    def update_campaign(self, name: str, settings: CampaignSettings | None = None,
                        survey_text: str | None = None, script: str | None = None,
                        engine: EngineSpec | None = None) -> None:
        with self.tx():
            if engine is not None:
                self.db.execute("UPDATE campaigns SET engine=?, model=?, model_hint=? WHERE "
                                "name=?", (engine.engine, engine.model, engine.hint, name))
            if settings is not None:
                old = self.db.execute("SELECT settings FROM campaigns WHERE name=?",
                                      (name,)).fetchone()
                self.db.execute("UPDATE campaigns SET settings=? WHERE name=?",
                                (settings.to_json(), name))
                if old is not None:  # recordings made already keep for the new keep-days
                    was = CampaignSettings.from_json(old["settings"]).keep_days
                    self.db.execute("UPDATE recordings SET keep_until = keep_until + ? WHERE "
                                    "campaign=?", ((settings.keep_days - was) * 86400, name))
            if survey_text is not None:
                self.db.execute("UPDATE campaigns SET survey_text=?, survey_hash=?, script=? "
                                "WHERE name=?", (survey_text, survey_hash(survey_text),
                                                 script, name))

    @_mapped
    def set_line(self, name: str, line: LineConfig) -> None:
        with self.tx():
            self.db.execute("UPDATE campaigns SET line=? WHERE name=?", (line.to_json(), name))

    @_mapped
    def contacts_reached(self, campaign: str) -> int:
        """Attempts on which someone answered (a person or a machine): what a new survey
        would make incomparable. Drops, busy lines and no answers reach nobody."""
        row = self.db.execute(
            "SELECT COUNT(*) FROM attempts WHERE campaign=? AND outcome NOT IN "
            "('dropped', 'busy', 'no_answer', 'invalid_number')", (campaign,)).fetchone()
        return int(row[0])

    @_mapped
    def attempts_made(self, campaign: str) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM attempts WHERE campaign=?",
                                   (campaign,)).fetchone()[0])
