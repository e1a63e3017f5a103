"""The demo: a synthetic province called end to end on the embedded default.

It makes districts, numbers and people (with a hidden truth), loads them like
any call list, runs the campaign, and then, as only a simulation can, compares
what was recorded with the truth.
"""

from __future__ import annotations

import contextlib
import csv
import os
import random
import resource
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dialer.campaign import reports
from dialer.campaign.admin import LoadRequest, frozen_survey, load
from dialer.dispatch.dispatcher import RunParams
from dialer.dispatch.runner import run
from dialer.lines.simulated.population import persona
from dialer.policy.settings import CampaignSettings
from dialer.recordings.scoring import Tally, verdict
from dialer.simulation.farend import far_end
from dialer.store import Store
from survey_scripts import DEFAULT_SURVEY
from survey_scripts.errors import UsageError

DISTRICTS = ("Jiang'an", "Wuchang", "Hongshan", "Qiaokou", "Hanyang", "Qingshan")
_PREFIXES = ("130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152",
             "158", "159", "186", "187", "188", "189")
START = datetime(2020, 2, 10, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


def write_province(path: Path, contacts: int, seed: int) -> None:
    rng = random.Random(seed)
    numbers: set[str] = set()
    while len(numbers) < contacts:  # mobile prefixes that phonenumbers knows as valid
        numbers.add(f"{rng.choice(_PREFIXES)}{rng.randrange(10**8):08d}")
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["phone", "name", "district", "timezone"])
        for i, n in enumerate(sorted(numbers)):
            w.writerow([n, f"resident {i + 1}", rng.choice(DISTRICTS), "Asia/Shanghai"])


def demo(contacts: int, params: RunParams, seed: int, db: Path | None = None,
         progress: bool = True, callees: str = "duplex", record: str = "none",
         name: str = "demo", line: str = "simulated",
         script: Path | None = None) -> dict[str, Any]:
    """The province called on the simulated line, or (`line="sip"`) over SIP and RTP to
    the same population answering as SIP user agents on 127.0.0.1. On the wall clock the
    calling hours are the whole day and each number is tried once (retries come hours
    apart), so a realtime demo ends with its last call; the population answers by the
    hour its calls were planned for, not by the wall clock."""
    work = Path(tempfile.mkdtemp(prefix="healthdial-demo-"))
    store = Store(db or work / "demo.db")
    if store.has_campaign(name):
        raise UsageError(f"{store.path} has a campaign {name!r} already: give the demo "
                         "another --campaign name, or another --db")
    listing = work / "province.csv"
    write_province(listing, contacts, seed)
    settings = CampaignSettings(record=record)
    if params.realtime:
        settings = replace(settings, hours_start=0, hours_end=24, max_attempts=1)
    loaded = load(store, LoadRequest(listing, name, str(script or DEFAULT_SURVEY), "CN", seed=seed,
                                     start_at=START, callees=callees,
                                     settings=settings.checked(), line=line,
                                     far_end="simulated" if line != "simulated" else None))
    before = _cpu()
    if line == "simulated":
        stats = run(store, name, params, progress, given=(params.lines, params.cps))
    else:
        with far_end(store, name, work) as trunk, _environ("HEALTHDIAL_TRUNK", str(trunk)):
            stats = run(store, name, params, progress, given=(params.lines, params.cps))
    cpu = _cpu() - before
    st = reports.status(store, name)
    prev = reports.prevalence(store, name)
    truth = _truth(store, seed, name)
    for qid, p in prev.items():
        p["truth"] = truth["prevalence"].get(qid)
    completed = stats.outcomes["completed"]
    return {"contacts": loaded.loaded, "completed": completed, "attempts": stats.attempts,
            "outcomes": st["outcomes"], "response_rate": st["response_rate"],
            "calls_per_s": stats.calls_per_s, "wall_s": stats.wall_s,
            "cpu_s_per_completed_call": cpu / completed if completed else None,
            "simulated_hours": (stats.sim_end - stats.sim_start) / 3600,
            "prevalence": {k: {x: v[x] for x in ("estimate", "ci_low", "ci_high", "n", "truth")}
                           for k, v in prev.items()},
            "accuracy": truth["accuracy"], "risk": st["risk"], "db": store.path,
            "campaign": name}


@contextlib.contextmanager
def _environ(key: str, value: str) -> Iterator[None]:
    """The worker processes `run` starts read their trunk file from the environment."""
    was = os.environ.get(key)
    os.environ[key] = value
    try:
        yield
    finally:
        if was is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = was


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _truth(store: Store, seed: int, name: str) -> dict[str, Any]:
    """The simulation's side: true prevalence among respondents, and answer accuracy."""
    survey = frozen_survey(store.campaign(name))
    yes: dict[str, int] = {}
    n: dict[str, int] = {}
    acc = Tally()
    for r in store.iter_respondents(name):
        if r.contact.outcome != "completed":
            continue
        t = persona(seed, r.contact.id, survey).truth
        for qid, value in r.answers.items():
            if qid == "consent":
                continue
            acc.add(verdict(value, t.get(qid)))
            if value in ("yes", "no"):  # among those who answered it
                n[qid] = n.get(qid, 0) + 1
                yes[qid] = yes.get(qid, 0) + (t.get(qid) == "yes")
    return {"prevalence": {q: yes[q] / n[q] for q in n}, "accuracy": acc.as_dict()}
