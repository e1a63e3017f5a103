"""What an office acts on: outcomes, prevalence by district with 95% intervals, follow-ups.

Reports read the survey frozen with the campaign, so a renamed question in the
file does not hide the answers given to it.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import Counter
from typing import Any

from dialer.campaign.admin import frozen_survey
from dialer.policy.contacts import FORMULA, mask, printable
from dialer.store import Store
from survey_scripts.model import AnswerType
from survey_scripts.vocabulary import Outcome

# a bare E.164 number, with an RFC 3966 extension: no formula can hide in it
_NUMBER = re.compile(r"^\+\d{6,15}(;ext=\d{1,10})?$")
REACHED = (Outcome.COMPLETED, Outcome.REFUSED, Outcome.OPTED_OUT, Outcome.PARTIAL)


def wilson(yes: int, n: int, z: float = 1.96) -> tuple[float, float, float]:
    """Estimate and 95% Wilson interval of a proportion (sound for small n and rare symptoms)."""
    if n == 0:
        return 0.0, 0.0, 1.0
    p = yes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return p, max(0.0, centre - half), min(1.0, centre + half)


def status(store: Store, campaign: str) -> dict[str, Any]:
    c = store.campaign(campaign)
    n = store.counts(campaign)
    by_status, outcomes = n.status, n.outcomes
    contacts = sum(by_status.values())
    done = outcomes.get("completed", 0)
    reached = sum(outcomes.get(k, 0) for k in REACHED)
    return {"campaign": c.name, "contacts": contacts, "pending": by_status.get("pending", 0),
            "done": by_status.get("done", 0), "set_aside": by_status.get("set_aside", 0),
            "blocked": by_status.get("blocked", 0),  # do-not-call or opted out: never called
            "attempts": n.attempts, "outcomes": outcomes,
            "dropped": n.attempt_outcomes.get("dropped", 0),
            "response_rate": done / contacts if contacts else 0.0,
            "cooperation_rate": done / reached if reached else 0.0, "risk": n.risk}


def prevalence(store: Store, campaign: str) -> dict[str, dict[str, Any]]:
    """Per yes/no question: share of 'yes' among completed respondents, overall and by district."""
    survey = frozen_survey(store.campaign(campaign))
    counts = store.tallies.counts(campaign)
    out: dict[str, dict[str, Any]] = {}
    for q in survey.questions[1:]:
        if q.type != AnswerType.YES_NO:
            continue
        districts = counts.get(q.id, {})
        total = Counter[str]()
        rows = {}
        for d, cnt in sorted(districts.items()):
            total.update(cnt)
            rows[d] = _share(cnt)
        out[q.id] = {**_share(total), "by_district": rows}
    return out


def _share(cnt: Counter[str]) -> dict[str, Any]:
    n = cnt["yes"] + cnt["no"]
    est, lo, hi = wilson(cnt["yes"], n)
    return {"estimate": est, "ci_low": lo, "ci_high": hi, "n": n}


def _safe(cell: object) -> str:
    """A cell a spreadsheet will show as text, never run as a formula. A bare E.164
    number stays as it is: it cannot hold a formula, and a revealed report must load
    back as a call list."""
    text = printable("" if cell is None else str(cell))  # no terminal escapes either
    if _NUMBER.match(text):
        return text
    return "'" + text if text.startswith(FORMULA) else text


def respondents(store: Store, campaign: str, reveal: bool) -> list[dict[str, Any]]:
    survey = frozen_survey(store.campaign(campaign))
    qids = [q.id for q in survey.questions]
    out = []
    for who in store.iter_respondents(campaign):
        r = who.contact
        phone = r.e164 if reveal else mask(r.e164)
        if reveal and r.ext:
            phone = f"{phone};ext={r.ext}"  # RFC 3966 form, which phonenumbers reads back
        row = {"phone": phone if reveal or not r.ext else mask(r.e164, r.ext),
               "name": r.name, "district": r.district, "timezone": r.timezone,
               "status": who.shown,
               "why": r.reason if who.shown == "set_aside" else "",  # CSV: _safe()
               "outcome": r.outcome, "attempts": r.attempts, "risk": r.risk}
        row.update({q: who.answers.get(q) for q in qids})
        out.append(row)
    return out


def report(store: Store, campaign: str, fmt: str, reveal: bool) -> str:
    rows = respondents(store, campaign, reveal)
    if fmt == "json":
        return json.dumps({"status": status(store, campaign),
                           "prevalence": prevalence(store, campaign), "respondents": rows},
                          ensure_ascii=False, indent=1)
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        for row in rows:
            w.writerow({k: _safe(v) for k, v in row.items()})
    return buf.getvalue()


def followups(store: Store, campaign: str, reveal: bool) -> list[dict[str, Any]]:
    """Red first, then yellow, then those whose risk rule failed: the people staff should
    call back."""
    order = {"red": 0, "yellow": 1, "unknown": 2}
    # a partial interview belongs here too: its risk is known when a rule held, and
    # unknown (staff decide) when the call ended before the rules could tell
    rows = [r for r in respondents(store, campaign, reveal) if r["risk"] in order
            and r["outcome"] in ("completed", "partial")]
    return sorted(rows, key=lambda r: (order[r["risk"]], r["district"] or ""))
