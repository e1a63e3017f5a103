"""A campaign as an operator sees it, computed from the store (and Redis, over RQ).

One snapshot per campaign per second, shared by every dashboard, API client and
/metrics scrape (`Snapshots` caches them), so ten dashboards cost what one does.
Every figure says which clock it is on: the campaign's clock (simulated time on
the fast clock, the wall clock on the realtime clock) for the campaign's own
timeline, the wall clock for rates and the ETA. No phone number is in it.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from dialer.campaign.reports import prevalence, status
from dialer.dispatch.lock import is_running
from dialer.policy.hours import is_open
from dialer.store import ControlState, Store
from dialer.store.rows import LiveFigures
from survey_scripts.vocabulary import CONTACTED, RESPONSIVE, UNCONTACTED, Decision, Outcome

STALE_S = 5.0  # live figures older than this: no dispatcher is writing them
RECENT_MIN = 10  # "climbing" compares the last ten minutes of turns with all of them
FLAG_SHARE, FLAG_RISE, FLAG_MIN_TURNS = 0.25, 0.10, 20
# per question, the share of turns: asked again, read back, said back with the next
# question (implicit confirmation), sent to the keypad, left unanswered
HEALTH = (Decision.REPROMPTED, Decision.CONFIRMING, Decision.IMPLIED, Decision.KEYPAD,
          Decision.UNANSWERED)


def state_of(store: Store, name: str, control_state: str, pending: int) -> str:
    """idle (loaded, or no live dispatcher), running, paused, stopped, finished."""
    if control_state == ControlState.STOPPED:
        return "stopped"
    if pending == 0:
        return "finished"
    if control_state == ControlState.PAUSED:
        return "paused"
    return "running" if is_running(store.path, name) else "idle"


def campaign_list(store: Store) -> list[dict[str, Any]]:
    out = []
    for name in store.campaign_names():
        c = store.campaign(name)
        pending = store.counts(name).status.get("pending", 0)
        out.append({"name": name, "state": state_of(store, name, c.control.state, pending)})
    return out


def snapshot(store: Store, name: str, workers: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything the dashboard shows of one campaign, as of now."""
    c = store.campaign(name)
    st = status(store, name)
    live_row = store.read_live(name)
    at, live = live_row if live_row else (0.0, None)
    fresh = live is not None and time.time() - at < STALE_S
    now = live.now if live is not None and fresh else time.time()
    if live is not None and not fresh and live.clock == "fast":
        now = live.now
    counts = store.counts(name)
    outcomes = {o.value: counts.attempt_outcomes.get(o.value, 0) for o in Outcome}
    state = state_of(store, name, c.control.state, st["pending"])
    in_flight = live.lines_busy if live and fresh and state in ("running", "paused") else 0
    snap: dict[str, Any] = {
        "name": name, "state": state, "reason": c.control.reason,
        "clock": live.clock if live else "fast", "now": now,
        "updated_s_ago": round(time.time() - at, 1) if live_row else None,
        "lines_busy": in_flight, "line_cap": c.control.line_cap, "cps": c.control.cps,
        "attempts": counts.attempts, "completed": outcomes[Outcome.COMPLETED],
        "outcomes": outcomes, "dispositions": _dispositions(outcomes, st),
        "rates": _rates(live if live and fresh else LiveFigures()),
        "progress": _progress(store, name, now, in_flight, c.settings),
        "pipeline": _pipeline(store, name, now),
        "recognition": recognition(store, name, now),
        "throughput": _throughput(store, name),
        "risk": st["risk"], "lost_batches": live.lost_batches if live else 0,
        "workers": workers or {},
    }
    snap["eta_s"] = _eta(snap)
    return snap


def _dispositions(outcomes: dict[str, int], st: dict[str, Any]) -> dict[str, Any]:
    group = {"responsive": RESPONSIVE, "contacted": CONTACTED, "uncontacted": UNCONTACTED}
    out: dict[str, Any] = {k: sum(outcomes[o.value] for o in v) for k, v in group.items()}
    out["response_rate"] = st["response_rate"]
    out["cooperation_rate"] = st["cooperation_rate"]
    return out


def _rates(live: LiveFigures) -> dict[str, Any]:
    return {"started_per_min": live.started_last_min,
            "completed_per_min": live.completed_last_min,
            "completed_per_s": round(live.completed_per_s, 3),
            "results_per_min": live.results_last_min}


def _progress(store: Store, name: str, now: float, in_flight: int,
              settings: Any) -> dict[str, Any]:
    rows = store.pipeline(name, now)
    by = Counter[str]()
    next_retry: float | None = None
    dialable = 0
    for r in rows:
        by[r.status] += r.n
        if r.status != "pending":
            continue
        if r.due:
            dialable += r.n if is_open(now, r.timezone, settings) else 0
        elif r.attempts > 0 and r.next_at is not None:
            by["waiting"] += r.n
            next_retry = r.next_at if next_retry is None else min(next_retry, r.next_at)
    pending = by["pending"]
    return {"contacts": sum(by[k] for k in ("pending", "done", "set_aside")),
            "done": by["done"], "in_progress": in_flight, "waiting_retry": by["waiting"],
            "next_retry_at": next_retry, "left": max(0, pending - in_flight - by["waiting"]),
            "set_aside": by["set_aside"], "dialable_now": max(0, dialable - in_flight)}


def _pipeline(store: Store, name: str, now: float) -> list[dict[str, int]]:
    """Contacts by attempts made: still being tried (due) vs waiting for a retry."""
    out: dict[int, Counter[str]] = defaultdict(Counter)
    for r in store.pipeline(name, now):
        if r.status == "pending":
            out[r.attempts]["trying" if r.due else "waiting"] += r.n
        else:
            out[r.attempts][r.status] += r.n
    return [{"attempts": k, **{x: v[x] for x in ("trying", "waiting", "done", "set_aside")}}
            for k, v in sorted(out.items())]


def _percentile(buckets: list[tuple[float, int]], q: float) -> float | None:
    """The bucket's upper bound in ms that holds the q-th quantile (as Prometheus does)."""
    total = sum(n for _, n in buckets)
    if not total:
        return None
    seen = 0
    for bound, n in sorted(buckets):
        seen += n
        if seen >= q * total:
            return None if bound == float("inf") else bound * 1000
    return None


def recognition(store: Store, name: str, now: float) -> list[dict[str, Any]]:
    """Per question: the share of its turns reprompted, confirmed, sent to the keypad, left
    unanswered or rejected; a question whose reprompts climb is flagged."""
    total: dict[str, Counter[str]] = defaultdict(Counter)
    recent: dict[str, Counter[str]] = defaultdict(Counter)
    for r in store.turn_stats(name):
        total[r.question][r.decision] += r.n
    for r in store.turn_stats(name, int(now // 60) - RECENT_MIN):
        recent[r.question][r.decision] += r.n
    lat: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for b in store.latency(name):
        lat[b.question].append((b.bucket, b.n))
    out = []
    for q, cnt in sorted(total.items()):
        turns = sum(n for d, n in cnt.items() if d != "rejected")
        row: dict[str, Any] = {"question": q, "turns": turns}
        for d in (*HEALTH, "rejected"):
            row[str(d)] = round(cnt[str(d)] / turns, 3) if turns else 0.0
        row["flag"] = _flag(cnt, recent[q])
        row["p50_ms"], row["p99_ms"] = _percentile(lat[q], 0.5), _percentile(lat[q], 0.99)
        out.append(row)
    return out


def _flag(total: Counter[str], recent: Counter[str]) -> str | None:
    turns = sum(n for d, n in total.items() if d != "rejected")
    now_turns = sum(n for d, n in recent.items() if d != "rejected")
    if not turns:
        return None
    share = total[Decision.REPROMPTED.value] / turns
    now_share = recent[Decision.REPROMPTED.value] / now_turns if now_turns else 0.0
    if now_turns >= FLAG_MIN_TURNS and now_share >= FLAG_SHARE and now_share >= share + FLAG_RISE:
        return (f"reprompts climbing: {now_share:.0%} in the last {RECENT_MIN} minutes against "
                f"{share:.0%} overall: check the prompt's wording and the grammar")
    if turns >= 2 * FLAG_MIN_TURNS and share >= FLAG_SHARE + FLAG_RISE:
        return f"{share:.0%} of turns reprompted: check the prompt's wording and the grammar"
    return None


def _throughput(store: Store, name: str, minutes: int = 180) -> list[dict[str, Any]]:
    """Attempts and completed surveys per minute of the campaign's clock, the latest ones."""
    per: dict[int, Counter[str]] = defaultdict(Counter)
    for r in store.throughput(name):
        per[r.minute][r.outcome] += r.n
    keep = sorted(per)[-minutes:]
    return [{"minute": m, "attempts": sum(per[m].values()),
             "completed": per[m][Outcome.COMPLETED.value]} for m in keep]


def _eta(snap: dict[str, Any]) -> float | None:
    """Wall seconds until every contact is done, at the last minute's pace of results."""
    per_min = snap["rates"]["results_per_min"]
    attempts = max(1, snap["attempts"])
    done = max(1, snap["progress"]["done"])
    if not per_min or snap["state"] not in ("running",):
        return None
    left = snap["progress"]["left"] + snap["progress"]["waiting_retry"]
    return round(left * (attempts / done) / per_min * 60, 0)


def districts(store: Store, name: str) -> list[dict[str, Any]]:
    """Prevalence per symptom by district with 95% intervals, beside each district's
    contact rate: a district whose people are not reached stands out."""
    prev = prevalence(store, name)
    reach = {r.district: (r.contacts, r.reached or 0)
             for r in store.district_reach(name)}
    out = []
    for d, (contacts, reached) in sorted(reach.items()):
        row: dict[str, Any] = {"district": d, "contacts": contacts,
                               "contact_rate": round(reached / contacts, 3) if contacts else 0}
        row["symptoms"] = {q: p["by_district"].get(d) for q, p in prev.items()}
        out.append(row)
    return out


@dataclass
class Snapshots:
    """One snapshot per campaign per `ttl` seconds, whoever asks."""

    store: Store
    ttl: float = 1.0
    workers: Any = None  # (campaign) -> workers dict, over RQ
    _cache: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)

    def get(self, name: str) -> dict[str, Any]:
        hit = self._cache.get(name)
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        snap = snapshot(self.store, name, self.workers(name) if self.workers else None)
        self._cache[name] = (time.monotonic(), snap)
        return snap
